"""Reading the page's JSON requests: every value checked before the library sees it.

Input from the page is untrusted. Each reader takes the decoded JSON object
and a key, checks type, range and size against the caps below, and raises
:class:`BadRequest` (answered 4xx with its message) naming the field and
what was expected. Booleans are never accepted as numbers.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_LANDSCAPE_N",
    "MAX_PATTERNS",
    "MAX_SIDE",
    "MAX_SWEEPS",
    "BadRequest",
    "parse_json",
]

#: Largest request body, in bytes (64 patterns of 32 × 32 floats fit).
MAX_BODY_BYTES = 4 * 1024 * 1024
#: Largest grid side: grids are at most 32 × 32 = 1,024 neurons.
MAX_SIDE = 32
#: Most stored patterns in one request.
MAX_PATTERNS = 64
#: Most sweeps (or steps) one request may run.
MAX_SWEEPS = 200
#: Largest network of the energy landscape (all 2^n states are enumerated).
MAX_LANDSCAPE_N = 14
#: Largest temperature of the stochastic updates.
MAX_TEMPERATURE = 10.0
#: The β range of the modern network and of the exponential dense memory.
BETA_RANGE = (0.01, 100.0)
#: Largest magnitude of a continuous value (a modern network's pattern or state).
MAX_ABS_VALUE = 1e3


class BadRequest(Exception):
    """A request the server refuses: ``status`` (4xx) and a message for the page."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def parse_json(body: bytes) -> dict[str, Any]:
    """The JSON object of a request body; 400 if it is not one."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, deep nesting
        raise BadRequest(f"the request body is not valid JSON: {exc}", 400) from None
    if not isinstance(data, dict):
        raise BadRequest(f"the request body must be a JSON object, got {_kind(data)}", 400)
    return data


def _kind(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _get(data: dict[str, Any], key: str, default: Any) -> Any:
    value = data.get(key, default)
    if value is _REQUIRED:
        raise BadRequest(f"{key} is required")
    return value


_REQUIRED = object()


def integer(data: dict[str, Any], key: str, lo: int, hi: int, default: Any = _REQUIRED) -> int:
    """An integer in ``[lo, hi]``."""
    value = _get(data, key, default)
    if type(value) is not int:
        raise BadRequest(f"{key} must be an integer in [{lo}, {hi}], got {_kind(value)}")
    if not lo <= value <= hi:
        raise BadRequest(f"{key} must be in [{lo}, {hi}], got {value}")
    return value


def number(data: dict[str, Any], key: str, lo: float, hi: float, default: Any = _REQUIRED) -> float:
    """A finite number in ``[lo, hi]``."""
    value = _get(data, key, default)
    if type(value) not in (int, float):
        raise BadRequest(f"{key} must be a number in [{lo:g}, {hi:g}], got {_kind(value)}")
    if not (math.isfinite(value) and lo <= value <= hi):
        raise BadRequest(f"{key} must be in [{lo:g}, {hi:g}], got {value}")
    return float(value)


def choice(
    data: dict[str, Any], key: str, options: tuple[str, ...], default: Any = _REQUIRED
) -> str:
    """One of ``options``."""
    value = _get(data, key, default)
    if not isinstance(value, str) or value not in options:
        shown = value if isinstance(value, str) else _kind(value)
        raise BadRequest(f"{key} must be one of {', '.join(options)}; got {shown!r}")
    return value


def obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested JSON object."""
    value = _get(data, key, _REQUIRED)
    if not isinstance(value, dict):
        raise BadRequest(f"{key} must be an object, got {_kind(value)}")
    return value


def shape(data: dict[str, Any], key: str = "shape") -> tuple[int, int]:
    """A grid shape ``[rows, columns]``, each side in ``[2, MAX_SIDE]``."""
    value = _get(data, key, _REQUIRED)
    if not (isinstance(value, list) and len(value) == 2):
        raise BadRequest(f"{key} must be [rows, columns], got {_kind(value)}")
    sides = {f"{key}[{i}]": v for i, v in enumerate(value)}
    return tuple(integer(sides, k, 2, MAX_SIDE) for k in sides)  # type: ignore[return-value]


def spins(data: dict[str, Any], key: str, n: int) -> np.ndarray:
    """A list of ``n`` cells, each the integer 1 or -1, as ``int8``."""
    value = _get(data, key, _REQUIRED)
    _check_length(value, key, n)
    for i, v in enumerate(value):
        if type(v) is not int or v not in (1, -1):
            raise BadRequest(f"{key}[{i}] must be 1 or -1, got {_shown(v)}")
    return np.array(value, dtype=np.int8)


def reals(data: dict[str, Any], key: str, n: int) -> np.ndarray:
    """A list of ``n`` finite numbers of magnitude at most ``MAX_ABS_VALUE``."""
    value = _get(data, key, _REQUIRED)
    _check_length(value, key, n)
    for i, v in enumerate(value):
        if type(v) not in (int, float) or not (math.isfinite(v) and abs(v) <= MAX_ABS_VALUE):
            raise BadRequest(
                f"{key}[{i}] must be a finite number of magnitude at most {MAX_ABS_VALUE:g}, "
                f"got {_shown(v)}"
            )
    return np.array(value, dtype=np.float64)


def rows(
    data: dict[str, Any], key: str, n: int, *, real: bool = False, max_rows: int = MAX_PATTERNS
) -> np.ndarray:
    """A list of 1 to ``max_rows`` rows of ``n`` cells (spins, or reals with ``real``)."""
    value = _get(data, key, _REQUIRED)
    if not isinstance(value, list):
        raise BadRequest(f"{key} must be an array of rows, got {_kind(value)}")
    if not 1 <= len(value) <= max_rows:
        raise BadRequest(f"{key} must hold 1 to {max_rows} rows, got {len(value)}")
    read = reals if real else spins
    return np.stack([read({f"{key}[{k}]": row}, f"{key}[{k}]", n) for k, row in enumerate(value)])


def labels(data: dict[str, Any], key: str, count: int) -> list[str]:
    """Optional names of ``count`` patterns (short strings); default ``#1``, ``#2``, ..."""
    value = data.get(key)
    if value is None:
        return [f"#{k + 1}" for k in range(count)]
    if not isinstance(value, list) or len(value) != count:
        raise BadRequest(f"{key} must be an array of {count} strings")
    for i, v in enumerate(value):
        if not isinstance(v, str) or len(v) > 32:
            raise BadRequest(f"{key}[{i}] must be a string of at most 32 characters")
    return list(value)


def _check_length(value: Any, key: str, n: int) -> None:
    if not isinstance(value, list):
        raise BadRequest(f"{key} must be an array of {n} cells, got {_kind(value)}")
    if len(value) != n:
        raise BadRequest(f"{key} must have {n} cells (the grid's size), got {len(value)}")


def _shown(v: Any) -> str:
    text = json.dumps(v) if isinstance(v, (bool, int, float, str, type(None))) else _kind(v)
    return text if len(text) <= 40 else text[:37] + "..."
