"""The graded-response network (Hopfield 1984): continuous neurons in continuous time."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _forget, _validate
from ._core import Graded
from .network import RULES, HopfieldNetwork
from .persist import Persistent, State

ACTIVATIONS = ("tanh", "sigmoid")


@dataclass(frozen=True)
class GradedRetrieval:
    """What :meth:`GradedHopfieldNetwork.retrieve` returned, per query.

    For a batch of ``B`` queries the fields have a leading ``B`` axis; for
    one ``(N,)`` query they drop it (scalars for the per-query numbers).

    Attributes
    ----------
    potentials : numpy.ndarray
        Final potentials ``u``, float64 ``(B, N)``.
    outputs : numpy.ndarray
        Final outputs ``V = g(u)``, float64 ``(B, N)``.
    signs : numpy.ndarray
        ``int8`` ±1 ``(B, N)``: the sign of ``u`` (``u = 0`` reads as +1).
    steps : numpy.ndarray or int
        Integration steps taken (time ``steps·dt``).
    converged : numpy.ndarray or bool
        Whether the run stopped at ``max|du/dt| ≤ tol`` (not at ``t_max``).
    rate : numpy.ndarray or float
        ``max_i |du_i/dt|`` at the final state (units of ``u`` per unit time).
    energy : numpy.ndarray or float
        The 1984 energy of the final state.
    times : numpy.ndarray or None
        With ``record=k``: the recording times ``0, k·dt, 2k·dt, …``.
    energy_trace : numpy.ndarray or None
        With ``record``: the energy at ``times``, ``(B, T)``, NaN after a run stopped.
    trajectory : numpy.ndarray or None
        With ``trajectory=True``: the potentials at ``times``, ``(B, T, N)``,
        NaN after a run stopped.
    """

    potentials: np.ndarray
    outputs: np.ndarray
    signs: np.ndarray
    steps: np.ndarray | int
    converged: np.ndarray | bool
    rate: np.ndarray | float
    energy: np.ndarray | float
    times: np.ndarray | None = None
    energy_trace: np.ndarray | None = None
    trajectory: np.ndarray | None = None


def _positive(value: Any, name: str) -> float:
    if not _validate.is_real(value):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    x = float(value)
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return x


def _real_batch(x: ArrayLike, n: int, name: str, dim: str = "n") -> tuple[np.ndarray, bool]:
    """``x`` as a float64 C-contiguous ``(B, n)`` batch of finite values."""
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers") from None
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {raw.dtype}")
    arr = np.ascontiguousarray(raw, dtype=np.float64)
    batch, single = _validate.as_batch(arr, n, name, dim=dim, what="values")
    bad = ~np.isfinite(batch)
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be finite; found {batch[r, c]} at row {r}, column {c}")
    if batch is raw:  # never hand the caller's array on
        batch = batch.copy()
    return batch, single


def _held(clamp: ArrayLike | None, n: int, rows: int) -> np.ndarray | None:
    """``clamp=`` as the extension takes it: a new bool ``(1, n)`` or
    ``(rows, n)`` array, or ``None`` when no neuron is held."""
    if clamp is None:
        return None
    mask = _validate.mask(clamp, n, rows, "clamp")
    return mask if mask.any() else None


def _dense(weights: ArrayLike) -> np.ndarray:
    """A real, finite, non-empty square matrix as a new float64 array."""
    expected = "weights must be a real square (N, N) matrix"
    try:
        raw = np.asarray(weights)
    except (TypeError, ValueError):
        raise TypeError(expected) from None
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"{expected}; got dtype {raw.dtype}")
    if raw.ndim != 2 or raw.shape[0] != raw.shape[1] or raw.shape[0] == 0:
        raise ValueError(f"{expected}; got shape {raw.shape}")
    w = np.array(raw, dtype=np.float64, order="C")
    if not np.all(np.isfinite(w)):
        bad = tuple(int(b) for b in np.argwhere(~np.isfinite(w))[0])
        raise ValueError(f"weights must be finite; found {w[bad]} at {bad}")
    return w


class GradedHopfieldNetwork(Persistent):
    r"""The graded-response network of Hopfield (1984).

    Neuron ``i`` has a potential ``u_i`` and an output ``V_i = g(u_i)``:

    ``τ du_i/dt = −u_i + Σ_j W_ij V_j + I_i``,  ``I = −θ``,

    ``g(u) = tanh(γu)`` (``activation="tanh"``, outputs in (−1, 1)) or
    ``g(u) = 1/(1 + e^{−γu})`` (``"sigmoid"``, outputs in (0, 1)). Time is
    in units of ``τ``'s unit, ``u``, ``V`` and ``I`` are dimensionless (unit
    membrane resistance). For symmetric ``W`` the energy

    ``E(V) = −½ Σ_ij W_ij V_i V_j − Σ_i I_i V_i + Σ_i ∫_0^{V_i} g⁻¹(v) dv``

    never increases along the flow; the integral is
    ``(1/2γ)[(1+V)ln(1+V) + (1−V)ln(1−V)]`` for tanh and
    ``(1/γ)[V ln V + (1−V)ln(1−V)]`` for the sigmoid. As ``γ → ∞`` the
    minima are the binary network's (the integral vanishes); below the
    critical gain ``γ_c = 1/λ_max(W)`` (tanh, ``I = 0``) the origin is the
    only fixed point and every state decays to it.

    The weights come from a learning rule of :class:`HopfieldNetwork`
    (Hebbian weights are applied factored, ``W V = X^T(X V)/N − diag·V``,
    ``2PN`` operations per state instead of ``N²``) or from
    :meth:`from_weights`. The dynamics run in the Rust core (exponential
    Euler, batched matrix products, all cores); results do not depend on
    ``threads``.

    Parameters
    ----------
    n : int
        Number of neurons.
    gain : float
        The gain ``γ > 0`` (settable).
    tau : float
        The time constant ``τ > 0``.
    rule : str
        A learning rule of :class:`HopfieldNetwork` (``"hebbian"``,
        ``"storkey"``, ``"pseudoinverse"``, ``"covariance"``).
    threshold : float or array_like
        Thresholds ``θ`` (input currents ``I = −θ``); ``"auto"`` as for
        :class:`HopfieldNetwork`.
    activation : {"tanh", "sigmoid"}
        The output function.
    activity : float, optional
        For ``rule="covariance"``.
    threads : int or None
        Threads for the work; ``None`` uses all cores.

    Examples
    --------
    >>> import hopfield as hf
    >>> x = hf.random_patterns(5, 200, seed=0)
    >>> net = hf.GradedHopfieldNetwork(200, gain=20.0)
    >>> net.store(x)
    >>> res = net.retrieve(hf.corrupt(x, flip=0.1, seed=1))
    >>> bool((res.signs == x).all())
    True
    """

    def __init__(
        self,
        n: int,
        *,
        gain: float = 10.0,
        tau: float = 1.0,
        rule: str = "hebbian",
        threshold: float | ArrayLike | str = "auto",
        activation: str = "tanh",
        activity: float | None = None,
        threads: int | None = None,
    ) -> None:
        rule = _validate.choice(rule, "rule", RULES)
        self._net: HopfieldNetwork | None = HopfieldNetwork(
            n,
            rule=rule,
            threshold=threshold,  # type: ignore[arg-type]
            activity=activity,
        )
        self._weights: np.ndarray | None = None
        self._theta: np.ndarray = self._net.threshold  # from_weights' own thresholds
        self._setup(self._net.n, gain, tau, activation, threads)

    def _setup(self, n: int, gain: Any, tau: Any, activation: Any, threads: Any) -> None:
        self._n = n
        self._gain = _positive(gain, "gain")
        self._tau = _positive(tau, "tau")
        self._activation = _validate.choice(activation, "activation", ACTIVATIONS)
        if threads is not None:
            threads = _validate.positive_int(threads, "threads")
        self._threads = threads
        self._core: Graded | None = None

    @classmethod
    def from_weights(
        cls,
        weights: ArrayLike,
        *,
        gain: float = 10.0,
        tau: float = 1.0,
        threshold: float | ArrayLike = 0.0,
        activation: str = "tanh",
        threads: int | None = None,
    ) -> GradedHopfieldNetwork:
        """A network over a real square weight matrix you bring (kept as float64).

        The energy descends along the flow when ``W`` is symmetric; other
        matrices are accepted (their dynamics may oscillate).
        """
        w = _dense(weights)
        net = cls.__new__(cls)
        net._net = None
        net._weights = w
        net._theta = _validate.threshold(threshold, w.shape[0])
        net._setup(w.shape[0], gain, tau, activation, threads)
        return net

    def __repr__(self) -> str:
        return (
            f"GradedHopfieldNetwork(n={self.n}, gain={self.gain!r}, tau={self.tau!r}, "
            f"rule={self.rule!r}, activation={self.activation!r}, "
            f"num_patterns={self.num_patterns})"
        )

    @property
    def n(self) -> int:
        """Number of neurons N."""
        return self._n

    @property
    def gain(self) -> float:
        """The gain γ (settable: a finite number > 0)."""
        return self._gain

    @gain.setter
    def gain(self, value: float) -> None:
        self._gain = _positive(value, "gain")
        self._core = None

    @property
    def tau(self) -> float:
        """The time constant τ."""
        return self._tau

    @property
    def activation(self) -> str:
        """``"tanh"`` or ``"sigmoid"``."""
        return self._activation

    @property
    def rule(self) -> str | None:
        """The learning rule, or ``None`` for :meth:`from_weights`."""
        return None if self._net is None else self._net.rule

    @property
    def threads(self) -> int | None:
        """Threads for the work (``None``: all cores)."""
        return self._threads

    @property
    def threshold(self) -> np.ndarray:
        """The thresholds θ (input currents ``I = −θ``), a new float64 ``(N,)``."""
        if self._net is None:
            return self._theta.copy()
        return self._net.threshold

    @property
    def num_patterns(self) -> int:
        """Number of stored patterns (0 for :meth:`from_weights`)."""
        return 0 if self._net is None else self._net.num_patterns

    @property
    def patterns(self) -> np.ndarray:
        """The stored patterns, a new ``int8`` ``(P, N)`` array."""
        if self._net is None:
            return np.empty((0, self.n), dtype=np.int8)
        return self._net.patterns

    @property
    def weights(self) -> np.ndarray:
        """The weights ``W``, a new float64 ``(N, N)`` array."""
        if self._net is None:
            assert self._weights is not None
            return self._weights.copy()
        return np.asarray(self._net.weights, dtype=np.float64)

    def store(self, patterns: ArrayLike) -> None:
        """Store ±1 (or 0/1) patterns ``(P, N)`` with the learning rule (see
        :meth:`HopfieldNetwork.store`)."""
        if self._net is None:
            raise ValueError(
                "store: this network was built from_weights and has no learning rule; "
                "build GradedHopfieldNetwork(n, rule=...) to learn patterns"
            )
        self._net.store(patterns)
        self._core = None

    def _engine(self, gain: float | None = None) -> Graded:
        """The core network (built once per patterns and gain)."""
        if self._core is None:
            weights = patterns = None
            if self._net is None:
                weights = self._weights
            elif self._net.rule == "hebbian":
                patterns = self._net.patterns.astype(np.float64)
            else:
                weights = self.weights
            self._core = Graded(
                self.n,
                gain=self.gain,
                activation=self.activation,
                tau=self.tau,
                input=-self.threshold,
                patterns=patterns,
                weights=weights,
                threads=self.threads,
            )
        if gain is not None and gain != self._core.gain:
            return self._core.with_gain(gain)
        return self._core

    def outputs(self, potentials: ArrayLike) -> np.ndarray:
        """``V = g(u)`` of potentials, float64 of the same shape."""
        u, single = _real_batch(potentials, self.n, "potentials")
        v = (
            np.tanh(self.gain * u)
            if self.activation == "tanh"
            else 1 / (1 + np.exp(-self.gain * u))
        )
        return v[0] if single else v

    def forget(self, indices: ArrayLike | int) -> None:
        """Remove stored patterns exactly.

        Afterwards the network is, bit for bit, the one that the same
        ``store`` calls would have built without these patterns: it is
        rebuilt from its options, and the remaining patterns are learnt
        again in their original order and ``store`` batches (see
        :meth:`hopfield.HopfieldNetwork.forget` for what that means for each
        rule; for Storkey's it is re-learning the rest in order).

        Parameters
        ----------
        indices : int or array_like of int
            Rows of :attr:`patterns` to forget: distinct integers in
            ``[-P, P)`` (negative counts from the end). Empty: nothing changes.

        Raises
        ------
        IndexError
            An index out of range.
        ValueError, TypeError
            Repeated indices, indices that are not integers
            (a network built ``from_weights`` stores none: every index is
            out of range).
        """
        _forget.forget(self, indices)

    def retrieve(
        self,
        queries: ArrayLike,
        *,
        dt: float = 0.1,
        t_max: float = 100.0,
        tol: float = 1e-6,
        record: int | None = None,
        trajectory: bool = False,
        clamp: ArrayLike | None = None,
    ) -> GradedRetrieval:
        """Integrate the flow from initial potentials to a fixed point.

        Parameters
        ----------
        queries : array_like
            Initial potentials ``u(0)``, real ``(B, N)`` or one ``(N,)``; a ±1
            cue starts at ``u = ±1``.
        dt : float
            Step (same unit as ``τ``), ``0 < dt ≤ τ``; the leak is integrated
            exactly over a step with the drive held (exponential Euler). The
            discrete energy descends when ``dt·γ·λ_max(W)/τ`` is small.
        t_max : float
            Time limit: at most ``ceil(t_max/dt)`` steps.
        tol : float
            A state stops once ``max_i |du_i/dt| ≤ tol``.
        record : int or None
            Record the energy (and with ``trajectory`` the potentials) every
            ``record`` steps.
        trajectory : bool
            Also record the potentials (needs ``record``).
        clamp : array_like of bool or None
            A partial cue: a boolean mask of shape ``(N,)`` (the same for
            every query) or ``(B, N)`` (one per query), True where a neuron
            is known. Clamped neurons keep their query potentials for the
            whole run (``du_i/dt = 0``: their drive is computed, then
            replaced by their potential, so a step leaves them exactly as
            they are); the others (the *free* neurons) evolve, driven by
            every neuron's output. ``rate`` and convergence are over the
            free neurons; ``energy`` is the 1984 energy of the whole state,
            which with the clamped neurons held differs from the energy of
            the free neurons (the terms that involve one) by a constant, so
            it descends as that one does. ``None`` (default) or an
            all-False mask: every neuron is free.

        Returns
        -------
        GradedRetrieval

        Raises
        ------
        ValueError, TypeError
            For an option out of its range or of the wrong type, naming it;
            a ``clamp`` that is not a boolean array (``TypeError``) of shape
            ``(N,)`` or ``(B, N)`` (``ValueError``).

        Examples
        --------
        Known upper half, unknown lower half at zero potential:

        >>> import numpy as np, hopfield as hf
        >>> x = hf.random_patterns(5, 200, seed=0)
        >>> net = hf.GradedHopfieldNetwork(200, gain=20.0)
        >>> net.store(x)
        >>> known = np.arange(200) < 100
        >>> res = net.retrieve(np.where(known, x[0], 0.0), clamp=known)
        >>> bool((res.signs == x[0]).all()), bool((res.potentials[:100] == x[0, :100]).all())
        (True, True)
        """
        u, single = _real_batch(queries, self.n, "queries")
        held = _held(clamp, self.n, u.shape[0])
        dt_ = _positive(dt, "dt")
        if dt_ > self.tau:
            raise ValueError(
                f"dt must be at most tau = {self.tau} (the step's stability bound), got {dt!r}"
            )
        steps = math.ceil(_positive(t_max, "t_max") / dt_)
        if steps >= 2**32:
            raise ValueError(f"t_max/dt must be below 2**32 steps, got {steps}")
        if not _validate.is_real(tol) or not (math.isfinite(tol) and tol >= 0):
            raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
        if not isinstance(trajectory, (bool, np.bool_)):
            raise TypeError(f"trajectory must be a bool, got {type(trajectory).__name__}")
        if trajectory and record is None:
            raise ValueError("trajectory=True needs record=k (record every k steps)")
        out = self._engine().integrate(
            u,
            dt=dt_,
            max_steps=steps,
            tol=float(tol),
            record=record,
            trajectory=bool(trajectory),
            clamp=held,
        )
        states, nsteps, converged, rate, energy, trace, path = out
        outputs = self.outputs(states)
        signs = np.where(states >= 0, 1, -1).astype(np.int8)
        times = None if trace is None else np.arange(trace.shape[1]) * (record or 1) * dt_
        if single:
            return GradedRetrieval(
                states[0],
                outputs[0],
                signs[0],
                int(nsteps[0]),
                bool(converged[0]),
                float(rate[0]),
                float(energy[0]),
                times,
                None if trace is None else trace[0],
                None if path is None else path[0],
            )
        return GradedRetrieval(
            states, outputs, signs, nsteps, converged, rate, energy, times, trace, path
        )

    def energy(self, potentials: ArrayLike) -> np.ndarray | float:
        """The 1984 energy of potentials ``u`` ``(B, N)`` (float64 ``(B,)``) or ``(N,)`` (float)."""
        u, single = _real_batch(potentials, self.n, "potentials")
        out = self._engine().integrate(
            u, dt=self.tau, max_steps=0, tol=0.0, record=None, trajectory=False
        )
        e = out[4]
        return float(e[0]) if single else e

    def critical_gain(self) -> float:
        """``1/λ_max(W)``: below it (tanh, no input) the origin is the only
        fixed point. ``inf`` when ``W`` has no positive eigenvalue."""
        lam = float(np.linalg.eigvalsh((self.weights + self.weights.T) / 2).max())
        return math.inf if lam <= 0 else 1.0 / lam

    def _get_state(self) -> State:
        params: dict[str, Any] = {
            "gain": self.gain,
            "tau": self.tau,
            "activation": self.activation,
            "threads": self.threads,
        }
        if self._net is None:
            assert self._weights is not None
            return params, {"weights": self._weights, "threshold": self._theta}
        net_params, net_arrays = self._net._get_state()
        params["network"] = net_params
        return params, net_arrays

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> GradedHopfieldNetwork:
        options = {k: params[k] for k in ("gain", "tau", "activation", "threads")}
        if "network" not in params:
            return cls.from_weights(arrays["weights"], threshold=arrays["threshold"], **options)
        inner = HopfieldNetwork._from_state(params["network"], arrays)
        net = cls.__new__(cls)
        net._net = inner
        net._weights = None
        net._setup(inner.n, **options)
        return net
