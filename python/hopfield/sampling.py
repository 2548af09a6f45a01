"""Boltzmann sampling with Glauber dynamics, for every binary energy model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _validate
from ._alloc import ensure_fits
from ._core import SampleOptions
from ._core import acceptance_uniforms as _acceptance_uniforms
from ._core import random_states as _random_states


@dataclass(frozen=True)
class Samples:
    """Markov-chain samples from the Boltzmann distribution ``P(s) ∝ exp(-E(s)/T)``.

    Attributes
    ----------
    states : numpy.ndarray
        ``int8`` ±1 ``(chains, n_samples, N)``: sample ``k`` of chain ``c`` is
        the state after sweep ``burn_in + (k + 1) * thin``.
    energy : numpy.ndarray
        ``float64`` ``(chains, n_samples)``: the energy of each sample.
    final_states : numpy.ndarray
        ``int8`` ``(chains, N)``: each chain's last state (its last sample).
    temperature : float
        The temperature sampled at.
    """

    states: np.ndarray
    energy: np.ndarray
    final_states: np.ndarray
    temperature: float

    @property
    def flat(self) -> np.ndarray:
        """All samples of all chains as one ``(chains * n_samples, N)`` array (chain-major)."""
        return self.states.reshape(-1, self.states.shape[-1])


def _engine(model: Any) -> tuple[Any, int]:
    engine = getattr(model, "_engine", None)
    n = getattr(model, "n", None)
    if engine is None or not hasattr(engine, "sample") or not isinstance(n, int):
        raise TypeError(
            "model must be a binary energy model (HopfieldNetwork, IsingProblem, ...), "
            f"got {type(model).__name__}"
        )
    return engine, n


def sample(
    model: Any,
    *,
    temperature: float,
    n_samples: int,
    burn_in: int = 100,
    thin: int = 1,
    seed: int | None = None,
    chains: int | None = None,
    init: ArrayLike | None = None,
    order: str = "random",
    threads: int | None = None,
    clamp: ArrayLike | None = None,
) -> Samples:
    """Sample states of ``model`` from its Boltzmann distribution ``P(s) ∝ exp(-E(s)/T)``.

    Runs independent Markov chains of Glauber (heat-bath) dynamics in
    parallel: each sweep updates every neuron once, asynchronously, setting
    ``s_i = +1`` with probability ``1 / (1 + exp(-gap_i / T))`` where
    ``gap_i = E(s_i=-1) - E(s_i=+1)``. This chain has the Boltzmann
    distribution as its stationary distribution. The GIL is released and
    Ctrl-C interrupts a long run.

    Parameters
    ----------
    model : HopfieldNetwork or IsingProblem or other binary model
        The energy ``E(s)``.
    temperature : float
        ``T > 0``.
    n_samples : int
        Samples per chain, at least 1.
    burn_in : int
        Sweeps run before the first sample is kept.
    thin : int
        Sweeps between kept samples, at least 1.
    seed : int or None
        Chain ``c`` draws its orders, acceptance uniforms and (without
        ``init``) starting state from streams of ``(seed, c)``: results
        depend only on the inputs and the seed, never on ``threads``.
    chains : int or None
        Number of chains (default: 1, or the number of rows of ``init``).
    init : array_like or None
        Starting states: one ``(N,)`` for every chain or ``(chains, N)``.
        ``None`` starts each chain from a uniformly random state.
    order : {"random", "sequential"}
        Neuron order of each sweep.
    threads : int or None
        ``None`` uses all cores; an int runs on a pool of that many threads.
    clamp : array_like of bool or None
        Conditional sampling from a partial cue (needs ``init``): a boolean
        mask of shape ``(N,)`` (the same for every chain) or ``(chains, N)``,
        True where a neuron is held at its value in ``init`` for the whole
        run. The chains then sample ``P(s_free | s_held) ∝ exp(-E(s)/T)``:
        each sweep draws the same neuron order and uniforms as without a
        clamp and skips the held neurons' updates (their uniforms go
        unused), so a chain's free neurons follow the same streams as an
        unclamped chain's. ``energy`` is the model's energy of the whole
        state. ``None`` (default) or an all-False mask: every neuron is free.

    Returns
    -------
    Samples
        ``states`` ``(chains, n_samples, N)`` and their ``energy``.

    Raises
    ------
    ValueError, TypeError
        For an option out of its range or of the wrong type, naming it; a
        ``clamp`` without ``init`` (``ValueError``), not a boolean array
        (``TypeError``) or not of shape ``(N,)`` or ``(chains, N)``
        (``ValueError``).

    Examples
    --------
    >>> import hopfield as hf
    >>> net = hf.HopfieldNetwork(8)
    >>> net.store(hf.random_patterns(2, 8, seed=0))
    >>> s = hf.sample(net, temperature=0.5, n_samples=100, chains=4, seed=1)
    >>> s.states.shape, s.energy.shape
    ((4, 100, 8), (4, 100))
    """
    engine, n = _engine(model)
    options = SampleOptions(
        temperature=temperature,
        n_samples=n_samples,
        burn_in=burn_in,
        thin=thin,
        seed=seed,
        order=order,
        threads=threads,
        chains=chains,
    )
    if init is None:
        if clamp is not None:
            raise ValueError(
                "clamp needs init: the clamped neurons keep their starting values, "
                "so give the starting states (the partial cue) with init="
            )
        sampled = engine.sample(options)
    else:
        batch, single = _validate.spin_batch(init, n, "init")
        count = chains if (single and chains is not None) else batch.shape[0]
        held = _validate.clamp_spins(clamp, n, count)
        if held is None:
            sampled = engine.sample(options, np.ascontiguousarray(batch), single)
        else:
            sampled = engine.sample(options, np.ascontiguousarray(batch), single, held)
    return Samples(
        states=sampled.samples,
        energy=sampled.sample_energy,
        final_states=sampled.final_states,
        temperature=float(temperature),
    )


def acceptance_uniforms(
    n: int, sweeps: int, *, seed: int, count: int = 1, first: int = 0
) -> np.ndarray:
    """The uniforms that decide the updates of stochastic runs.

    Query (or chain) ``q`` under ``seed`` draws one uniform ``u`` in
    ``[0, 1)`` per update; in sweep ``t`` its ``k``-th update (neuron
    ``sweep_orders(...)[q, t, k]``) sets the neuron to +1 iff
    ``gap > T · ln(u / (1 - u))`` with ``u = acceptance_uniforms(...)[q, t, k]``,
    which has probability ``1 / (1 + exp(-gap / T))``.
    With :func:`hopfield.sweep_orders` these reproduce a run exactly in NumPy
    (:func:`hopfield.reference.glauber_hebbian`).

    Parameters
    ----------
    n : int
        Number of neurons.
    sweeps : int
        Number of sweeps.
    seed : int
        The seed of the run.
    count : int
        Number of queries or chains.
    first : int
        Index of the first one.

    Returns
    -------
    numpy.ndarray
        ``float64`` ``(count, sweeps, n)``.
    """
    n = _validate.positive_int(n, "n")
    sweeps = _validate.positive_int(sweeps, "sweeps", minimum=0)
    count = _validate.positive_int(count, "count", minimum=0)
    first = _validate.positive_int(first, "first", minimum=0)
    if seed is None:
        raise TypeError("seed must be an integer: uniforms are only reproducible for a given seed")
    if first + count > 2**64:
        raise ValueError(f"first + count must be at most 2**64, got {first + count}")
    ensure_fits(8 * n * sweeps * count, "the requested uniforms")
    return _acceptance_uniforms(n, sweeps, _validate.seed(seed), count, first)


def random_states(count: int, n: int, *, seed: int) -> np.ndarray:
    """The uniformly random ``int8`` ``(count, n)`` states that chains and
    restarts start from by default (row ``r`` from the stream of ``(seed, r)``)."""
    count = _validate.positive_int(count, "count", minimum=0)
    n = _validate.positive_int(n, "n")
    if seed is None:
        raise TypeError("seed must be an integer")
    ensure_fits(n * count, "the requested states")
    return _random_states(n, count, _validate.seed(seed))
