"""Ising, QUBO and max-cut problems solved by annealed Glauber dynamics
or by mean-field annealing.

An :class:`IsingProblem` is a Hopfield network over an explicit weight
matrix (``W = J``, thresholds ``θ = -h``): its energy ``-½ sᵀJs - hᵀs`` is
the network's ``-½ sᵀWs + θᵀs``, and :meth:`IsingProblem.minimize` runs the
shared dynamics engine (simulated annealing, then a deterministic quench)
from many random starts in parallel; ``method="mean-field"`` anneals the
gain of the graded-response network over the same weights instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _validate
from ._core import RetrieveOptions, Weights
from .graded import GradedHopfieldNetwork
from .persist import Persistent, State
from .sampling import random_states

#: Default annealing length (sweeps) of :meth:`IsingProblem.minimize` and :func:`maxcut`.
DEFAULT_SWEEPS = 200
#: Most deterministic sweeps of the final quench.
QUENCH_SWEEPS = 1000
#: Default number of gain stages of ``minimize(method="mean-field")``.
MEAN_FIELD_STAGES = 40
#: Time (units of τ) the graded dynamics run at each gain stage, and their step.
STAGE_TIME, STAGE_DT = 10.0, 0.2
METHODS = ("glauber", "mean-field")


@dataclass(frozen=True)
class Minimization:
    """The result of :meth:`IsingProblem.minimize`, one row per restart.

    Attributes
    ----------
    states : numpy.ndarray
        ``int8`` ±1 ``(restarts, N)``: where each restart ended, a local
        minimum (no single flip lowers the energy) unless the quench was cut
        short (``converged`` False).
    energy : numpy.ndarray
        ``float64`` ``(restarts,)``: the energy of each state, offset included.
    converged : numpy.ndarray
        ``bool`` ``(restarts,)``: the state is a local minimum.
    best_state : numpy.ndarray
        ``int8`` ``(N,)``: the lowest-energy state over the restarts (the first on ties).
    best_energy : float
        Its energy.
    """

    states: np.ndarray
    energy: np.ndarray
    converged: np.ndarray
    best_state: np.ndarray
    best_energy: float


def _square(value: ArrayLike, name: str) -> np.ndarray:
    """A real, finite, square matrix as a new float64 array."""
    expected = f"{name} must be a real square (N, N) matrix"
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(expected) from None
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"{expected}; got dtype {raw.dtype}")
    if raw.ndim != 2 or raw.shape[0] != raw.shape[1] or raw.shape[0] == 0:
        raise ValueError(f"{expected}; got shape {raw.shape}")
    m = np.array(raw, dtype=np.float64, order="C")
    if not np.all(np.isfinite(m)):
        bad = tuple(int(b) for b in np.argwhere(~np.isfinite(m))[0])
        raise ValueError(f"{name} must be finite; found {m[bad]} at {bad}")
    return m


def _symmetric(m: np.ndarray, name: str) -> None:
    if not np.array_equal(m, m.T):
        i, j = (int(x) for x in np.argwhere(m != m.T)[0])
        raise ValueError(
            f"{name} must be symmetric; {name}[{i}, {j}] = {m[i, j]} "
            f"but {name}[{j}, {i}] = {m[j, i]}"
        )


def _real(value: Any, name: str) -> float:
    if not _validate.is_real(value) or not math.isfinite(float(value)):
        raise TypeError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


class IsingProblem(Persistent):
    """Minimise ``E(s) = -½ sᵀJs - hᵀs + offset`` over spins ``s ∈ {-1, +1}^N``.

    Parameters
    ----------
    J : array_like
        ``(N, N)`` real couplings: symmetric with a zero diagonal.
    h : array_like or None
        ``(N,)`` real fields (default zero).
    offset : float
        A constant added to every energy (:meth:`from_qubo` sets it).

    Notes
    -----
    The dynamics run on the weight-matrix engine
    (:meth:`hopfield.HopfieldNetwork.from_weights`): ``J`` is stored as
    ``float32`` rounded onto a fixed-point grid on which every field is an
    exact sum, so couplings with more than ~24 significant bits are rounded
    (relative change below ``2**-24``) for the dynamics. Energies reported by
    this class are computed in float64 from ``J`` and ``h`` as given.

    Examples
    --------
    >>> import numpy as np, hopfield as hf
    >>> J = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, -1.0], [0.0, -1.0, 0.0]])
    >>> hf.IsingProblem(J).minimize(restarts=4, seed=0).best_energy
    -2.0
    """

    def __init__(self, J: ArrayLike, h: ArrayLike | None = None, *, offset: float = 0.0) -> None:
        couplings = _square(J, "J")
        _symmetric(couplings, "J")
        if np.any(np.diag(couplings) != 0):
            i = int(np.argmax(np.diag(couplings) != 0))
            raise ValueError(f"J must have a zero diagonal; J[{i}, {i}] = {couplings[i, i]}")
        n = couplings.shape[0]
        fields = np.zeros(n) if h is None else _field(h, n)
        self._J = couplings
        self._h = fields
        self._offset = _real(offset, "offset")
        self._engine = Weights(_validate.weight_matrix(couplings, "J"), -fields)

    def __repr__(self) -> str:
        return f"IsingProblem(n={self.n}, offset={self._offset!r})"

    def _get_state(self) -> State:
        return {"offset": self._offset}, {"J": self._J, "h": self._h}

    @classmethod
    def _from_state(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> IsingProblem:
        return cls(arrays["J"], arrays["h"], offset=params["offset"])

    @classmethod
    def from_qubo(cls, Q: ArrayLike) -> IsingProblem:
        """The Ising form of the 0/1 quadratic problem ``min xᵀQx``, ``x ∈ {0, 1}^N``.

        With ``x = (1 + s)/2`` and ``Qs = (Q + Qᵀ)/2``: ``J = -Qs/2`` off the
        diagonal, ``h = -(Qs·1)/2`` and ``offset = (Σ_ij Q_ij + Σ_i Q_ii)/4``,
        so that ``energy(s) == xᵀQx`` for every state. Convert results back
        with :meth:`to_binary`.

        Parameters
        ----------
        Q : array_like
            ``(N, N)`` real matrix (not necessarily symmetric; the diagonal
            holds the linear terms, ``x_i² = x_i``).
        """
        q = _square(Q, "Q")
        qs = 0.5 * (q + q.T)
        J = -0.5 * qs
        np.fill_diagonal(J, 0.0)
        h = -0.5 * qs.sum(axis=1)
        offset = 0.25 * (q.sum() + np.trace(q))
        return cls(J, h, offset=float(offset))

    @staticmethod
    def to_binary(states: ArrayLike) -> np.ndarray:
        """``x = (1 + s)/2``: spins as 0/1 ``int8`` (same shape)."""
        s = np.asarray(states)
        return (s > 0).astype(np.int8)

    @property
    def n(self) -> int:
        """Number of spins."""
        return int(self._J.shape[0])

    @property
    def couplings(self) -> np.ndarray:
        """``J``, a new float64 ``(N, N)`` array."""
        return self._J.copy()

    @property
    def fields(self) -> np.ndarray:
        """``h``, a new float64 ``(N,)`` array."""
        return self._h.copy()

    @property
    def offset(self) -> float:
        """The constant added to every energy."""
        return self._offset

    def energy(self, states: ArrayLike) -> np.ndarray | float:
        """``-½ sᵀJs - hᵀs + offset`` of one state ``(N,)`` or a batch ``(B, N)``."""
        batch, single = _validate.spin_batch(states, self.n, "states")
        e = self._energies(batch)
        return float(e[0]) if single else e

    def _energies(self, batch: np.ndarray) -> np.ndarray:
        s = batch.astype(np.float64)
        return -0.5 * np.einsum("bi,bi->b", s @ self._J, s) - s @ self._h + self._offset

    def default_gains(self) -> tuple[str, float, float]:
        """The gain schedule of ``minimize(method="mean-field")`` by default:
        ``("geometric", γ_c/2, 50γ_c)`` with ``γ_c = 1/λ_max(J)`` the critical
        gain (``1/σ`` of :meth:`default_schedule` when ``J`` has no positive
        eigenvalue)."""
        lam = float(np.linalg.eigvalsh(self._J).max())
        if lam <= 0:
            sigma = math.sqrt(float(np.mean((self._J**2).sum(axis=1) + self._h**2)))
            lam = sigma if sigma > 0 else 1.0
        return ("geometric", 0.5 / lam, 50.0 / lam)

    def _mean_field(
        self,
        restarts: int,
        sweeps: int | None,
        schedule: Any,
        seed: int | None,
        init: ArrayLike | None,
        threads: int | None,
    ) -> Minimization:
        gains = _stages(self.default_gains() if schedule is None else schedule, sweeps)
        quench = RetrieveOptions(
            update="async",
            max_sweeps=QUENCH_SWEEPS,
            order="random",
            seed=seed,
            threads=threads,
            track_energy=False,
            temperature=0.0,
            sweeps=None,
            schedule=None,
        )
        if init is None:
            u = np.stack(
                [
                    np.random.default_rng([quench.seed, r]).standard_normal(self.n)
                    for r in range(restarts)
                ]
            )
        else:
            batch, single = _validate.spin_batch(init, self.n, "init")
            if single:
                batch = np.repeat(batch, restarts, axis=0)
            elif batch.shape[0] != restarts:
                raise ValueError(
                    f"init has {batch.shape[0]} rows but restarts={restarts} "
                    "(give one row per restart)"
                )
            u = batch.astype(np.float64)
        u *= 0.1 / gains[0]
        net = GradedHopfieldNetwork.from_weights(
            self._J, gain=float(gains[0]), tau=1.0, threshold=-self._h, threads=threads
        )
        for gain in gains:
            net.gain = float(gain)
            u = net.retrieve(u, dt=STAGE_DT, t_max=STAGE_TIME, tol=1e-6).potentials
        signs = np.ascontiguousarray(np.where(u >= 0, 1, -1).astype(np.int8))
        outcomes = self._engine.retrieve(signs, quench)
        states = outcomes.states
        energy = self._energies(states)
        best = int(np.argmin(energy))
        return Minimization(
            states=states,
            energy=energy,
            converged=outcomes.converged,
            best_state=states[best].copy(),
            best_energy=float(energy[best]),
        )

    def default_schedule(self) -> tuple[str, float, float]:
        """The annealing schedule :meth:`minimize` uses by default:
        ``("geometric", 2σ, σ/50)`` with ``σ² = mean_i(Σ_j J_ij² + h_i²)``,
        the mean square field of a random state (``σ = 1`` if that is 0)."""
        sigma = math.sqrt(float(np.mean((self._J**2).sum(axis=1) + self._h**2)))
        sigma = sigma if sigma > 0 else 1.0
        return ("geometric", 2.0 * sigma, sigma / 50.0)

    def minimize(
        self,
        *,
        method: str = "glauber",
        restarts: int = 16,
        sweeps: int | None = None,
        schedule: ArrayLike | tuple[str, float, float] | None = None,
        seed: int | None = None,
        init: ArrayLike | None = None,
        threads: int | None = None,
    ) -> Minimization:
        """Simulated annealing (or mean-field annealing) from ``restarts``
        starting states, in parallel.

        ``method="glauber"``: each restart runs ``sweeps`` Glauber sweeps
        along the temperature ``schedule`` (see
        :meth:`hopfield.HopfieldNetwork.retrieve`), then deterministic
        asynchronous sweeps until one flips nothing (at most 1000), so each
        ends in a local minimum.

        ``method="mean-field"`` (mean-field annealing, Peterson & Anderson
        1987; Hopfield & Tank 1985): the graded-response network over the
        same couplings, ``du/dt = −u + J tanh(γu) + h``
        (:class:`hopfield.GradedHopfieldNetwork`, ``τ = 1``), is run for
        10 time units at each gain ``γ`` of a rising ``schedule``, each
        stage from the last one's potentials. Below the critical gain
        ``γ_c = 1/λ_max(J)`` the outputs ``tanh(γu)`` sit near 0; as ``γ``
        grows they bifurcate and saturate towards ±1, following a minimum
        of the mean-field free energy. The signs of the final potentials
        are then quenched (deterministic asynchronous sweeps) to a local
        minimum, as for Glauber.

        Parameters
        ----------
        method : {"glauber", "mean-field"}
            The annealer.
        restarts : int
            Independent runs (default 16), one per starting state.
        sweeps : int or None
            Glauber: annealing sweeps (default 200, or the length of an array
            schedule). Mean-field: gain stages (default 40).
        schedule : tuple or array_like or None
            Glauber: ``("geometric", T0, T1)``, ``("linear", T0, T1)`` or
            per-sweep temperatures; default :meth:`default_schedule`.
            Mean-field: the same forms over gains ``γ`` (rising); default
            :meth:`default_gains`.
        seed : int or None
            Restart ``r`` draws its start (without ``init``), orders and
            uniforms from streams of ``(seed, r)``: results depend only on
            the inputs and ``seed``, never on ``threads``. Mean-field starts
            at small random potentials drawn from ``(seed, r)``.
        init : array_like or None
            Starting states ``(restarts, N)`` (or one ``(N,)`` for every
            restart) instead of random ones (mean-field: the initial
            potentials are ``0.1/γ_0`` times them).
        threads : int or None
            ``None`` uses all cores; an int runs on a pool of that many threads.

        Returns
        -------
        Minimization
            Per restart its final state and energy, and the best of them.
        """
        method = _validate.choice(method, "method", METHODS)
        restarts = _validate.positive_int(restarts, "restarts")
        if method == "mean-field":
            return self._mean_field(restarts, sweeps, schedule, seed, init, threads)
        if schedule is None:
            schedule = self.default_schedule()
        named = (
            isinstance(schedule, (tuple, list)) and bool(schedule) and isinstance(schedule[0], str)
        )
        if sweeps is None and named:
            sweeps = DEFAULT_SWEEPS  # an array schedule sets its own length
        options = RetrieveOptions(
            update="async",
            max_sweeps=QUENCH_SWEEPS,
            order="random",
            seed=seed,
            threads=threads,
            track_energy=False,
            temperature=0.0,
            sweeps=sweeps,
            schedule=schedule,
            quench=True,
        )
        if init is None:
            starts = random_states(restarts, self.n, seed=options.seed)
        else:
            batch, single = _validate.spin_batch(init, self.n, "init")
            if single:
                starts = np.repeat(batch, restarts, axis=0)
            elif batch.shape[0] != restarts:
                raise ValueError(
                    f"init has {batch.shape[0]} rows but restarts={restarts} "
                    "(give one row per restart)"
                )
            else:
                starts = np.ascontiguousarray(batch)
        outcomes = self._engine.retrieve(starts, options)
        states = outcomes.states
        energy = self._energies(states)
        best = int(np.argmin(energy))
        return Minimization(
            states=states,
            energy=energy,
            converged=outcomes.converged,
            best_state=states[best].copy(),
            best_energy=float(energy[best]),
        )


def _stages(schedule: Any, sweeps: int | None) -> np.ndarray:
    """The gains of a mean-field schedule: named ``(kind, g0, g1)`` over
    ``sweeps`` stages, or an array of positive gains."""
    named = isinstance(schedule, (tuple, list)) and bool(schedule) and isinstance(schedule[0], str)
    if named:
        if len(schedule) != 3:
            raise ValueError(
                f"schedule must be (kind, gain0, gain1) or an array of gains, got {schedule!r}"
            )
        kind = _validate.choice(schedule[0], "schedule kind", ("geometric", "linear"))
        g0, g1 = (_real(g, "schedule gain") for g in schedule[1:])
        if not (g0 > 0 and g1 > 0):
            raise ValueError(f"schedule gains must be > 0, got {g0}, {g1}")
        stages = MEAN_FIELD_STAGES if sweeps is None else _validate.positive_int(sweeps, "sweeps")
        if kind == "geometric":
            return np.geomspace(g0, g1, stages)
        return np.linspace(g0, g1, stages)
    try:
        gains = np.asarray(schedule, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("schedule must be (kind, gain0, gain1) or an array of gains") from None
    if gains.ndim != 1 or gains.size == 0:
        raise ValueError(f"schedule must be a non-empty 1-D array of gains, got {gains.shape}")
    if not (np.all(np.isfinite(gains)) and np.all(gains > 0)):
        raise ValueError("schedule gains must be finite and > 0")
    if sweeps is not None and _validate.positive_int(sweeps, "sweeps") != gains.size:
        raise ValueError(f"sweeps={sweeps} but the schedule has {gains.size} gains")
    return gains


def _field(h: ArrayLike, n: int) -> np.ndarray:
    try:
        raw = np.asarray(h)
    except (TypeError, ValueError):
        raise TypeError("h must be an array of N real numbers") from None
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"h must be an array of N real numbers; got dtype {raw.dtype}")
    if raw.shape != (n,):
        raise ValueError(f"h must have shape ({n},), got shape {raw.shape}")
    f = np.array(raw, dtype=np.float64)
    if not np.all(np.isfinite(f)):
        i = int(np.argmax(~np.isfinite(f)))
        raise ValueError(f"h must be finite; found {f[i]} at index {i}")
    return f


@dataclass(frozen=True)
class MaxCut:
    """The result of :func:`maxcut`.

    Attributes
    ----------
    sides : numpy.ndarray
        ``int8`` ±1 ``(N,)``: the side of each node in the best cut found.
    value : float
        Total weight of the edges between the two sides.
    values : numpy.ndarray
        ``float64`` ``(restarts,)``: the cut value each restart reached.
    """

    sides: np.ndarray
    value: float
    values: np.ndarray


def cut_value(adjacency: ArrayLike, sides: ArrayLike) -> np.ndarray | float:
    """Total weight of the edges ``{i, j}`` whose ends lie on different sides.

    ``sides`` is ±1 (or 0/1, bool) ``(N,)`` or a batch ``(B, N)``; the
    adjacency's diagonal (self-loops) never counts.
    """
    w = _square(adjacency, "adjacency")
    np.fill_diagonal(w, 0.0)
    batch, single = _validate.spin_batch(sides, w.shape[0], "sides")
    v = _cut_values(w, batch)
    return float(v[0]) if single else v


def _cut_values(w: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """Cut values of ±1 rows for a symmetric, zero-diagonal ``w``."""
    s = batch.astype(np.float64)
    return 0.25 * (w.sum() - np.einsum("bi,bi->b", s @ w, s))


def maxcut(
    adjacency: ArrayLike,
    *,
    method: str = "glauber",
    restarts: int = 32,
    sweeps: int | None = None,
    schedule: ArrayLike | tuple[str, float, float] | None = None,
    seed: int | None = None,
    threads: int | None = None,
) -> MaxCut:
    """Weighted maximum cut by annealing its Ising form.

    A cut ``s ∈ {-1, +1}^N`` has value ``Σ_{i<j} w_ij [s_i ≠ s_j] =
    (Σ_{i<j} w_ij - E(s)) / 2`` with ``E(s) = -½ sᵀJs = ½ sᵀWs``, ``J = -W``
    (zero diagonal), so the largest cut is the Ising ground state;
    :meth:`IsingProblem.minimize` searches for it from ``restarts`` random
    starts. The result is the best cut found, not a certificate of
    optimality.

    Parameters
    ----------
    adjacency : array_like
        ``(N, N)`` symmetric real edge weights (0 = no edge); the diagonal
        is ignored. Negative weights are allowed.
    method, restarts, sweeps, schedule, seed, threads
        As in :meth:`IsingProblem.minimize` (``method="mean-field"``: mean-field annealing).

    Returns
    -------
    MaxCut
        The sides of the best cut, its value, and the value per restart.

    Examples
    --------
    >>> import numpy as np, hopfield as hf
    >>> square = np.array([[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]])
    >>> hf.maxcut(square, seed=0).value
    4.0
    """
    w = _square(adjacency, "adjacency")
    _symmetric(w, "adjacency")
    np.fill_diagonal(w, 0.0)
    problem = IsingProblem(-w)
    result = problem.minimize(
        method=method,
        restarts=restarts,
        sweeps=sweeps,
        schedule=schedule,
        seed=seed,
        threads=threads,
    )
    values = _cut_values(w, result.states)
    best = int(np.argmax(values))
    return MaxCut(sides=result.states[best].copy(), value=float(values[best]), values=values)
