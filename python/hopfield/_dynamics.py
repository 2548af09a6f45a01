"""Validated retrieval options shared by every binary model's ``retrieve``.

Each model's ``retrieve`` builds one :class:`hopfield._core.Schedule` here
and hands it to its engine, so an option added here (and to the Rust
``Schedule``) reaches every model at once.
"""

from __future__ import annotations

from typing import Any

from . import _core, _validate
from .results import Retrieval

UPDATES = ("async", "sync")
ORDERS = ("random", "sequential")


def schedule(
    *,
    update: str,
    max_sweeps: int,
    order: str,
    seed: int | None,
    threads: int | None,
    track_energy: bool,
) -> _core.Schedule:
    """Check ``retrieve``'s options and build the engine's schedule.

    Raises ``ValueError``/``TypeError`` naming the offending argument.
    """
    update = _validate.choice(update, "update", UPDATES)
    order = _validate.choice(order, "order", ORDERS)
    max_sweeps = _validate.positive_int(max_sweeps, "max_sweeps")
    if max_sweeps >= 2**32:
        raise ValueError(f"max_sweeps must be below 2**32, got {max_sweeps}")
    return _core.Schedule(
        update=update,
        order=order,
        max_sweeps=max_sweeps,
        seed=_validate.seed(seed),
        threads=_validate.threads(threads),
        track_energy=bool(track_energy),
    )


def retrieval(raw: dict[str, Any], single: bool) -> Retrieval:
    """Wrap the engine's result dict in a :class:`Retrieval` (scalars for a
    single ``(N,)`` query)."""
    trace = raw.get("energy_trace")
    if single:
        return Retrieval(
            states=raw["states"][0],
            converged=bool(raw["converged"][0]),
            sweeps=int(raw["sweeps"][0]),
            energy=float(raw["energy"][0]),
            cycled=bool(raw["cycled"][0]),
            energy_trace=None if trace is None else trace[0],
        )
    return Retrieval(
        states=raw["states"],
        converged=raw["converged"],
        sweeps=raw["sweeps"],
        energy=raw["energy"],
        cycled=raw["cycled"],
        energy_trace=trace,
    )
