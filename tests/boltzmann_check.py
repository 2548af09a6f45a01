"""Shared by the sampling tests: the total-variation bound for a sample of a
given size, empirical distributions over all states, and a plain NumPy
Glauber sampler with a choice of (right or wrong) acceptance rule."""

from __future__ import annotations

import math

import numpy as np

#: Every chain contributes exactly one sample after a burn-in, so the K samples
#: are independent draws from (up to the burn-in's vanishing bias) the chain's
#: stationary law. For K independent draws over M states,
#: E[TV] = ½ Σ E|p̂_i − p_i| ≤ ½ Σ √(p_i/K) ≤ ½ √(M/K) (Cauchy–Schwarz), and one
#: draw moves TV by at most 1/K, so by McDiarmid P(TV > E[TV] + ε) ≤ exp(−2Kε²).
#: With ε = √(ln(10⁶)/(2K)) a correct sampler fails with probability < 10⁻⁶.
CHAINS = 60_000
BURN_IN = 40


def tv_bound(states: int, draws: int) -> float:
    return 0.5 * math.sqrt(states / draws) + math.sqrt(math.log(1e6) / (2 * draws))


def state_index(s: np.ndarray) -> np.ndarray:
    """Index of each ±1 row in ``reference.all_states`` order."""
    bits = (s > 0).astype(np.int64)
    return bits @ (1 << np.arange(s.shape[-1], dtype=np.int64))


def empirical(s: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(state_index(s), minlength=2**n) / s.shape[0]


def numpy_chains(W, theta, t, rule, chains, sweeps, seed) -> np.ndarray:
    """A plain NumPy Glauber sampler (vectorised over chains) with a choice of rule:
    ``"heat-bath"`` (correct), ``"half-gap"`` (uses h instead of 2h: samples the wrong
    temperature) or ``"synchronous"`` (every neuron from the same snapshot: Little
    dynamics, whose stationary law is not Boltzmann)."""
    rng = np.random.default_rng(seed)
    n = W.shape[0]
    s = rng.choice(np.array([-1.0, 1.0]), size=(chains, n))
    for _ in range(sweeps):
        if rule == "synchronous":
            gap = 2.0 * (s @ W - theta)
            s = np.where(rng.random((chains, n)) < 1 / (1 + np.exp(-gap / t)), 1.0, -1.0)
            continue
        for i in rng.permutation(n):
            h = s @ W[i] - theta[i]
            gap = h if rule == "half-gap" else 2.0 * h
            s[:, i] = np.where(rng.random(chains) < 1 / (1 + np.exp(-gap / t)), 1.0, -1.0)
    return s.astype(np.int8)
