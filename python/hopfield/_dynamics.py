"""Validated retrieval options shared by every binary model's ``retrieve``.

Each model's ``retrieve`` builds one :class:`hopfield._core.Schedule` here
and hands it to its engine, so an option added here (and to the Rust
``Schedule``) reaches every model at once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _core, _validate
from .results import Retrieval

UPDATES = ("async", "sync")
ORDERS = ("random", "sequential")
ANNEALING = ("geometric", "linear")
#: Sweeps of a stochastic run when neither ``sweeps`` nor an array schedule says.
DEFAULT_SWEEPS = 100
_MAX_SWEEPS = 2**32 - 1


def _temperature(value: Any, name: str, *, positive: bool) -> float:
    if not _validate.is_real(value):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    t = float(value)
    if not math.isfinite(t) or t < 0 or (positive and t == 0):
        want = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite temperature {want}, got {value!r}")
    return t


def _sweep_count(sweeps: Any) -> int:
    count = _validate.positive_int(sweeps, "sweeps")
    if count > _MAX_SWEEPS:
        raise ValueError(f"sweeps must be below 2**32, got {count}")
    return count


def temperature_plan(temperature: Any, sweeps: Any, schedule: Any) -> dict[str, Any]:
    """Check ``temperature``/``sweeps``/``schedule`` and return the matching
    keyword arguments of :class:`hopfield._core.Schedule`.

    ``schedule`` is ``None``, ``("geometric" | "linear", T0, T1)`` or a 1-D
    array of per-sweep temperatures. Raises ``ValueError``/``TypeError``
    naming the offending argument.
    """
    if schedule is not None:
        if not (_validate.is_real(temperature) and float(temperature) == 0.0):
            raise ValueError("give either temperature= or schedule=, not both")
        if isinstance(schedule, (tuple, list)) and schedule and isinstance(schedule[0], str):
            if len(schedule) != 3 or schedule[0] not in ANNEALING:
                raise ValueError(
                    "schedule must be ('geometric', T0, T1), ('linear', T0, T1) or a 1-D "
                    f"array of per-sweep temperatures; got {schedule!r}"
                )
            kind, t0, t1 = schedule
            positive = kind == "geometric"
            return {
                "kind": kind,
                "t0": _temperature(t0, "schedule's T0", positive=positive),
                "t1": _temperature(t1, "schedule's T1", positive=positive),
                "sweeps": DEFAULT_SWEEPS if sweeps is None else _sweep_count(sweeps),
            }
        try:
            raw = np.asarray(schedule)
        except (TypeError, ValueError):
            raise TypeError("schedule must be a tuple or an array of temperatures") from None
        if raw.dtype.kind not in "iuf":
            raise TypeError(
                f"schedule must be an array of real temperatures, got dtype {raw.dtype}"
            )
        ts = np.array(raw, dtype=np.float64, order="C")
        if ts.ndim != 1 or ts.size == 0:
            raise ValueError(
                f"schedule must be a non-empty 1-D array (one temperature per sweep), "
                f"got shape {ts.shape}"
            )
        bad = ~np.isfinite(ts) | (ts < 0)
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueError(f"schedule temperatures must be finite and >= 0; found {ts[k]} at {k}")
        if ts.size > _MAX_SWEEPS:
            raise ValueError(f"schedule may have at most 2**32 - 1 sweeps, got {ts.size}")
        if sweeps is not None and _sweep_count(sweeps) != ts.size:
            raise ValueError(
                f"sweeps={sweeps} disagrees with the schedule's {ts.size} temperatures "
                "(leave sweeps=None with an array schedule)"
            )
        return {"kind": "array", "temperatures": ts, "sweeps": int(ts.size)}
    t = _temperature(temperature, "temperature", positive=False)
    if t == 0.0:
        if sweeps is not None:
            raise ValueError(
                "sweeps= sets the length of a stochastic run (temperature > 0 or schedule=); "
                "deterministic runs stop on convergence, capped by max_sweeps"
            )
        return {"kind": "zero"}
    return {
        "kind": "constant",
        "t0": t,
        "sweeps": DEFAULT_SWEEPS if sweeps is None else _sweep_count(sweeps),
    }


def schedule(
    *,
    update: str,
    max_sweeps: int,
    order: str,
    seed: int | None,
    threads: int | None,
    track_energy: bool,
    temperature: float = 0.0,
    sweeps: int | None = None,
    schedule: ArrayLike | tuple[str, float, float] | None = None,
    quench: bool = False,
    sampling: tuple[int, int, int] | None = None,
) -> _core.Schedule:
    """Check ``retrieve``'s options and build the engine's schedule.

    ``temperature``/``sweeps``/``schedule`` select stochastic (Glauber)
    dynamics (see :func:`temperature_plan`); ``quench`` descends to a fixed
    point after them; ``sampling = (burn_in, n_samples, thin)`` makes the
    engine record samples (used by :func:`hopfield.sample`).

    Raises ``ValueError``/``TypeError`` naming the offending argument.
    """
    plan = temperature_plan(temperature, sweeps, schedule)
    update = _validate.choice(update, "update", UPDATES)
    if plan["kind"] != "zero" and update != "async":
        raise ValueError(
            "stochastic (temperature > 0 or schedule=) dynamics are asynchronous: "
            f"use update='async', got update={update!r}"
        )
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
        quench=bool(quench),
        sampling=sampling,
        **plan,
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


# ``retrieve`` below has a keyword argument named ``schedule``.
_schedule = schedule


class SpinDynamics:
    """Mixin: ``retrieve`` for a binary model whose engine ``_memory`` (of
    ``_memory.n`` neurons) runs a :class:`hopfield._core.Schedule`
    (``_memory.retrieve(batch, schedule)``). One implementation and one
    docstring for every binary model."""

    _memory: Any

    def retrieve(
        self,
        queries: ArrayLike,
        *,
        update: str = "async",
        max_sweeps: int = 100,
        order: str = "random",
        seed: int | None = None,
        threads: int | None = None,
        track_energy: bool = False,
        temperature: float = 0.0,
        sweeps: int | None = None,
        schedule: ArrayLike | tuple[str, float, float] | None = None,
    ) -> Retrieval:
        """Run the dynamics from each query: descent until it converges, or
        a fixed number of stochastic (Glauber) sweeps at a temperature.

        Parameters
        ----------
        queries : array_like
            One query ``(N,)`` or a batch ``(B, N)`` of spins. Never modified.
        update : {"async", "sync"}
            ``"async"``: one neuron at a time, each update seeing the earlier
            ones; a sweep updates every neuron once. Converged means a whole
            sweep without a flip; the energy never increases (for a symmetric
            network).
            ``"sync"``: every neuron from the same snapshot; converged means a
            fixed point, and a 2-cycle is detected and reported (``cycled``).
        max_sweeps : int
            Most sweeps (async) or steps (sync), at least 1.
        order : {"random", "sequential"}
            Async neuron order: a fresh random permutation per sweep drawn
            from the query's own stream (see :func:`hopfield.sweep_orders`),
            or ``0..N-1`` every sweep.
        seed : int or None
            Seed in ``[0, 2**64)``. Results depend only on the inputs and the
            seed, never on ``threads``. ``None`` draws a fresh seed.
        threads : int or None
            ``None`` uses all cores; an int runs on a pool of that many threads.
        track_energy : bool
            Record the energy after every sweep in ``energy_trace``.
        temperature : float
            ``0`` (default): deterministic descent as above. ``T > 0``:
            stochastic (Glauber) dynamics, asynchronous only: each update sets
            ``s_i = +1`` with probability ``1 / (1 + exp(-gap_i / T))``, where
            ``gap_i = E(s_i=-1) - E(s_i=+1)`` is the model's exact energy gap
            (``2 h_i`` for the classical network), for exactly ``sweeps``
            sweeps. Each update draws one uniform from the query's own stream
            (:func:`hopfield.acceptance_uniforms`), so results depend only on
            the inputs and ``seed``.
        sweeps : int or None
            Number of stochastic sweeps (default 100, or the length of an
            array ``schedule``). Only for stochastic runs; deterministic runs
            use ``max_sweeps``.
        schedule : tuple or array_like or None
            Annealing instead of a constant ``temperature``:
            ``("geometric", T0, T1)`` (``T_k = T0 (T1/T0)^(k/(sweeps-1))``,
            both > 0), ``("linear", T0, T1)`` (both >= 0; sweeps at ``T = 0``
            are deterministic) or a 1-D array with one temperature per sweep.

        Returns
        -------
        Retrieval
            Final states and, per query, ``converged``, ``sweeps``, ``energy``,
            ``cycled`` and optionally ``energy_trace``. For a stochastic run,
            ``sweeps`` is the number of sweeps run (always ``sweeps``),
            ``converged`` says whether the final state is a fixed point of the
            deterministic dynamics (no neuron's field disagrees with it: a
            local minimum of the energy), ``energy`` is the energy of the
            final state (not the lowest one visited), ``cycled`` is False and
            ``energy_trace`` has the energy after every sweep.
        """
        plan = _schedule(
            update=update,
            max_sweeps=max_sweeps,
            order=order,
            seed=seed,
            threads=threads,
            track_energy=track_energy,
            temperature=temperature,
            sweeps=sweeps,
            schedule=schedule,
        )
        batch, single = _validate.spin_batch(queries, self._memory.n, "queries")
        return retrieval(self._memory.retrieve(batch, plan), single)
