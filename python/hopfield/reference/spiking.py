r"""Pure-NumPy reference of the spiking (leaky integrate-and-fire) network, the
oracle of :class:`hopfield.SpikingHopfieldNetwork` and the NumPy path its
benchmark times. Everything is ``float64``.

Neurons ``i = 1..N`` with potential ``u_i`` (rest 0, unit resistance) and
synaptic current ``s_i``; cue ``b`` adds the current ``c·x_b`` (``c`` the cue
current) for the first ``cue_steps`` steps, on top of a constant bias::

    τ_m du_i/dt = −u_i + s_i + e_i,   τ_s ds_i/dt = −s_i,
    a spike of j adds w_ij/τ_s to s_i  (charge w_ij, kernel e^{−t/τ_s}/τ_s).

A neuron fires when ``u ≥ ϑ`` at the end of a step (or, with escape noise of
width ``Δ > 0``, when the step's uniform is below ``1 − exp(−dt·e^{(u−ϑ)/Δ}/τ_m)``),
is reset to ``u_r`` and held there for ``round(t_ref/dt)`` steps. Between
spikes a step integrates the linear dynamics exactly::

    u ← e^{−dt/τ_m} u + τ_s/(τ_s − τ_m)(e^{−dt/τ_s} − e^{−dt/τ_m}) s + (1 − e^{−dt/τ_m}) e
    s ← e^{−dt/τ_s} s

Spikes are events: the fired neurons' rows of ``Wᵀ/τ_s`` are added to their
cue's currents, one spike after another in neuron order (the same sums, in
the same order, as the Rust driver), so spike times agree exactly. The
escape noise's uniforms are an argument (``hopfield.acceptance_uniforms``
gives the ones the library draws), and the transcendental functions of the
hazard go through the C library (:mod:`math`), as the core's do.

Readout: every ``bin_steps`` steps, the Pearson correlation over neurons of
each cue's spike counts in the bin with each pattern (0 where either is
constant).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "SpikingRun",
    "lif_propagators",
    "lif_rate",
    "rate_overlaps",
    "sparse_covariance_weights",
    "spiking_simulate",
]

_exp = np.vectorize(math.exp, otypes=[np.float64])
_expm1 = np.vectorize(math.expm1, otypes=[np.float64])


def sparse_covariance_weights(X: ArrayLike, activity: float, strength: float) -> np.ndarray:
    """The covariance rule for 0/1 patterns ``X`` ``(P, N)`` of activity ``a``::

    W_ij = J/(N a(1 − a)) Σ_μ (ξ_i^μ − a)(ξ_j^μ − a),   W_ii = 0

    with ``J = strength``: a retrieved pattern's neurons excite each other
    with total weight ``J(1 − a)`` per unit rate, the others are inhibited.
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[1]
    a = float(activity)
    centred = X - a
    W = (strength / (n * a * (1.0 - a))) * (centred.T @ centred)
    np.fill_diagonal(W, 0.0)
    return W


def lif_rate(
    current: float,
    *,
    tau: float,
    threshold: float = 1.0,
    refractory: float = 0.0,
    reset: float = 0.0,
) -> float:
    """The firing rate of one LIF neuron under a constant ``current``:
    ``1/(t_ref + τ ln((I − u_r)/(I − ϑ)))`` above threshold, else 0."""
    if current <= threshold:
        return 0.0
    return 1.0 / (refractory + tau * math.log((current - reset) / (current - threshold)))


def lif_propagators(
    dt: float, tau: float, tau_syn: float, refractory: float
) -> tuple[float, float, float, float, int]:
    """``(leak, coupling, input, decay, refractory_steps)`` of a step (module docs)."""
    leak = math.exp(-dt / tau)
    decay = math.exp(-dt / tau_syn)
    if tau_syn == tau:
        coupling = dt / tau * leak
    else:
        coupling = tau_syn / (tau_syn - tau) * (decay - leak)
    return leak, coupling, -math.expm1(-dt / tau), decay, int(round(refractory / dt))


def rate_overlaps(counts: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """Pearson correlations ``(B, P)`` of spike counts ``(B, N)`` with ``(P, N)`` patterns."""
    counts = np.asarray(counts, dtype=np.float64)
    P = np.asarray(patterns, dtype=np.float64)
    centred = P - P.mean(axis=1, keepdims=True)
    norms = np.sqrt((centred**2).sum(axis=1))
    spread = np.sqrt(((counts - counts.mean(axis=1, keepdims=True)) ** 2).sum(axis=1))
    dots = counts @ centred.T
    denom = spread[:, None] * norms[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(denom > 0, dots / np.where(denom > 0, denom, 1.0), 0.0)
    return out


class SpikingRun(NamedTuple):
    """Spikes (``cue``, ``neuron``, ``step``: sorted by cue, then time, then
    neuron; time ``(step + 1)·dt``) and overlaps ``(B, bins, P)``."""

    cue: np.ndarray
    neuron: np.ndarray
    step: np.ndarray
    overlaps: np.ndarray


def spiking_simulate(
    W: ArrayLike,
    cues: ArrayLike,
    *,
    patterns: ArrayLike | None = None,
    tau: float = 20.0,
    tau_syn: float = 5.0,
    threshold: float = 1.0,
    reset: float = 0.0,
    refractory: float = 2.0,
    noise: float = 0.0,
    bias: float = 0.0,
    dt: float = 0.1,
    steps: int = 1000,
    cue_steps: int = 0,
    bin_steps: int = 100,
    cue_current: float = 1.0,
    uniforms: ArrayLike | None = None,
) -> SpikingRun:
    """Simulate ``(B, N)`` cues on weights ``W`` ``(N, N)`` (module docs).

    ``uniforms`` ``(B, steps, N)`` are the escape noise's draws (needed when
    ``noise > 0``). All cues run together, as arrays ``(B, N)``; spikes are
    delivered cue by cue in neuron order.
    """
    W = np.asarray(W, dtype=np.float64)
    X = np.atleast_2d(np.asarray(cues, dtype=np.float64))
    B, n = X.shape
    P = np.zeros((0, n)) if patterns is None else np.asarray(patterns, dtype=np.float64)
    out_rows = W.T / tau_syn  # row j: the jumps of all currents when j fires
    leak, coupling, inp, decay, ref_steps = lif_propagators(dt, tau, tau_syn, refractory)
    cue_input = bias + cue_current * X
    U = np.full((B, n), float(reset))
    S = np.zeros((B, n))
    R = np.zeros((B, n), dtype=np.int64)
    counts = np.zeros((B, n), dtype=np.int64)
    hazard = dt / tau
    draws = np.zeros((B, 0, n))
    if noise > 0:
        if uniforms is None:
            raise ValueError("noise > 0 needs the uniforms")
        draws = np.asarray(uniforms, dtype=np.float64)
    cue_idx: list[np.ndarray] = []
    neuron_idx: list[np.ndarray] = []
    step_idx: list[np.ndarray] = []
    overlaps = []
    for step in range(steps):
        E = cue_input if step < cue_steps else bias
        nxt = U * leak + S * coupling + E * inp
        S *= decay
        held = R > 0
        R[held] -= 1
        if noise > 0:
            rate = hazard * _exp((nxt - threshold) / noise)
            fire = ~held & (draws[:, step, :] < -_expm1(-rate))
        else:
            fire = ~held & (nxt >= threshold)
        U = np.where(held, U, np.where(fire, reset, nxt))
        R[fire] = ref_steps
        b, j = np.nonzero(fire)  # row-major: by cue, then neuron
        if b.size:
            cue_idx.append(b)
            neuron_idx.append(j)
            step_idx.append(np.full(b.size, step))
            counts[b, j] += 1
            # Deliver the k-th spike of every cue at once, k = 0, 1, ...:
            # each cue's currents receive its spikes in neuron order.
            first = np.searchsorted(b, b)
            rank = np.arange(b.size) - first
            for k in range(int(rank.max()) + 1):
                sel = rank == k
                S[b[sel]] += out_rows[j[sel]]
        if (step + 1) % bin_steps == 0:
            overlaps.append(rate_overlaps(counts, P))
            counts[:] = 0
    bins = steps // bin_steps
    ov = np.stack(overlaps, axis=1) if overlaps else np.zeros((B, 0, len(P)))
    assert ov.shape == (B, bins, len(P))
    if cue_idx:
        c, nn, st = np.concatenate(cue_idx), np.concatenate(neuron_idx), np.concatenate(step_idx)
        order = np.lexsort((nn, st, c))
        return SpikingRun(c[order], nn[order], st[order], ov)
    empty = np.zeros(0, dtype=np.int64)
    return SpikingRun(empty, empty, empty, ov)
