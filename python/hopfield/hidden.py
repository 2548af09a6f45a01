"""The hidden-neuron memory (Krotov & Hopfield 2021): a dense memory with two-body synapses."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _forget, _validate
from ._core import Hidden
from .graded import _held, _positive, _real_batch
from .persist import Persistent, State

FEATURES = ("identity", "tanh", "layernorm")
LAGRANGIANS = ("lse", "power", "rectified")


@dataclass(frozen=True)
class HiddenRetrieval:
    """What :meth:`HiddenNeuronMemory.retrieve` returned, per query.

    For a batch of ``B`` queries the fields have a leading ``B`` axis; for
    one ``(N,)`` query they drop it.

    Attributes
    ----------
    features : numpy.ndarray
        Final feature states ``x``, float64 ``(B, N)``.
    hidden : numpy.ndarray
        Final hidden states ``h``, float64 ``(B, P)``.
    signs : numpy.ndarray
        ``int8`` ±1 ``(B, N)``: the sign of ``x`` (0 reads as +1).
    steps, converged, rate, energy :
        As :class:`GradedRetrieval`.
    times, energy_trace :
        With ``record``: recording times and the energy there ``(B, T)``.
    trajectory : numpy.ndarray or None
        With ``trajectory=True``: the states ``[x | h]`` at ``times``, ``(B, T, N + P)``.
    """

    features: np.ndarray
    hidden: np.ndarray
    signs: np.ndarray
    steps: np.ndarray | int
    converged: np.ndarray | bool
    rate: np.ndarray | float
    energy: np.ndarray | float
    times: np.ndarray | None = None
    energy_trace: np.ndarray | None = None
    trajectory: np.ndarray | None = None


class HiddenNeuronMemory(Persistent):
    r"""A dense associative memory with hidden neurons (Krotov & Hopfield 2021).

    ``N`` feature neurons ``x`` and one hidden ("memory") neuron ``h_μ`` per
    stored pattern ``ξ_μ``, coupled only by two-body synapses ``ξ``:

    ``τ_f dx_i/dt = Σ_μ ξ_μi f_μ − x_i``,  ``τ_h dh_μ/dt = Σ_i ξ_μi g_i − h_μ``,

    ``g = ∇L_x(x)``, ``f = ∇L_h(h)``. The energy

    ``E = [Σ_i x_i g_i − L_x] + [Σ_μ h_μ f_μ − L_h] − Σ_μi f_μ ξ_μi g_i``

    never increases along the flow. Integrating out the hidden neurons
    (``τ_h → 0``, ``h = Ξ g``) gives the many-body models: with
    ``lagrangian="lse"`` (``L_h = β⁻¹ log Σ e^{βh}``, ``f = softmax(βh)``)
    and ``feature="identity"`` (``L_x = ½Σx²``) the fixed points are those of
    :class:`ModernHopfield` ``(β)``; with ``"power"``/``"rectified"``
    (``L_h = (1/n)Σh^n``, ``f = h^{n−1}``) and ``feature="tanh"``
    (``L_x = γ⁻¹Σ log cosh γx``, ``g = tanh γx``) it is the dense associative
    memory of degree ``n``. ``feature="layernorm"`` is
    ``L_x = Nγ√(σ² + ε)``, ``σ² = Σ(x_i − x̄)²/N``, whose gradient is the
    layer norm ``g = γ(x − x̄)/√(σ² + ε)``. Time is in the unit of ``τ``; the
    states are dimensionless.

    Parameters
    ----------
    n : int
        Number of feature neurons.
    lagrangian : {"lse", "power", "rectified"}
        The hidden Lagrangian.
    beta : float
        β of ``"lse"``.
    degree : int
        ``n`` of the powers (``"power"`` needs it even).
    feature : {"identity", "tanh", "layernorm"}
        The feature Lagrangian.
    gain : float
        γ of ``"tanh"``.
    gamma, eps : float
        γ and ε of ``"layernorm"``.
    tau_f, tau_h : float
        Time constants of the feature and hidden neurons.
    threads : int or None
        Threads for the work; ``None`` uses all cores. Results never depend on it.

    Examples
    --------
    >>> import numpy as np, hopfield as hf
    >>> x = np.random.default_rng(0).standard_normal((20, 32))
    >>> mem = hf.HiddenNeuronMemory(32, lagrangian="lse", beta=2.0)
    >>> mem.store(x)
    >>> res = mem.retrieve(x[4] + 0.1)
    >>> int(np.argmax(res.hidden))
    4
    """

    def __init__(
        self,
        n: int,
        *,
        lagrangian: str = "lse",
        beta: float = 1.0,
        degree: int = 3,
        feature: str = "identity",
        gain: float = 1.0,
        gamma: float = 1.0,
        eps: float = 1e-5,
        tau_f: float = 1.0,
        tau_h: float = 0.1,
        threads: int | None = None,
    ) -> None:
        self._n = _validate.positive_int(n, "n")
        self._lagrangian = _validate.choice(lagrangian, "lagrangian", LAGRANGIANS)
        self._feature = _validate.choice(feature, "feature", FEATURES)
        self._params = {
            "beta": _positive(beta, "beta"),
            "gain": _positive(gain, "gain"),
            "gamma": _positive(gamma, "gamma"),
            "eps": _positive(eps, "eps"),
            "tau_f": _positive(tau_f, "tau_f"),
            "tau_h": _positive(tau_h, "tau_h"),
        }
        self._degree = _validate.positive_int(degree, "degree", minimum=2)
        if lagrangian == "power" and self._degree % 2:
            raise ValueError(
                f"lagrangian='power' needs an even degree (the plain power is not convex); "
                f"got {degree}: use lagrangian='rectified'"
            )
        if threads is not None:
            threads = _validate.positive_int(threads, "threads")
        self._threads = threads
        self._patterns = np.empty((0, self._n))
        self._core: Hidden | None = None

    def __repr__(self) -> str:
        return (
            f"HiddenNeuronMemory(n={self.n}, lagrangian={self.lagrangian!r}, "
            f"feature={self.feature!r}, num_patterns={self.num_patterns})"
        )

    @property
    def n(self) -> int:
        """Number of feature neurons N."""
        return self._n

    @property
    def lagrangian(self) -> str:
        """The hidden Lagrangian."""
        return self._lagrangian

    @property
    def feature(self) -> str:
        """The feature Lagrangian."""
        return self._feature

    @property
    def degree(self) -> int:
        """Degree of the power Lagrangians."""
        return self._degree

    @property
    def beta(self) -> float:
        """β of the log-sum-exp Lagrangian."""
        return self._params["beta"]

    @property
    def tau_f(self) -> float:
        """Time constant of the feature neurons."""
        return self._params["tau_f"]

    @property
    def tau_h(self) -> float:
        """Time constant of the hidden neurons."""
        return self._params["tau_h"]

    @property
    def threads(self) -> int | None:
        """Threads for the work (``None``: all cores)."""
        return self._threads

    @property
    def num_patterns(self) -> int:
        """Number of stored patterns P (hidden neurons)."""
        return int(self._patterns.shape[0])

    @property
    def patterns(self) -> np.ndarray:
        """A copy of the stored patterns ``Ξ``, float64 ``(P, N)``."""
        return self._patterns.copy()

    def store(self, patterns: ArrayLike) -> None:
        """Append real patterns ``(P, N)`` (or one ``(N,)``): one hidden neuron each."""
        x, _ = _real_batch(patterns, self.n, "patterns")
        self._patterns = np.concatenate([self._patterns, x])
        self._core = None

    def _engine(self) -> Hidden:
        if self.num_patterns == 0:
            raise ValueError("no patterns stored: call store(patterns) first")
        if self._core is None:
            self._core = Hidden(
                self._patterns,
                feature=self.feature,
                hidden=self.lagrangian,
                degree=self.degree,
                input=np.zeros(self.n),
                threads=self.threads,
                **self._params,
            )
        return self._core

    def _states(self, queries: ArrayLike, hidden: ArrayLike | None) -> tuple[np.ndarray, bool]:
        x, single = _real_batch(queries, self.n, "queries")
        if hidden is None:
            h = self._engine().rest_hidden(x)  # the hidden neurons at rest given x
        else:
            h, hsingle = _real_batch(hidden, self.num_patterns, "hidden", "P")
            if h.shape[0] != x.shape[0]:
                raise ValueError(
                    f"hidden must have one row per query ({x.shape[0]}), got {h.shape[0]}"
                )
        return np.ascontiguousarray(np.concatenate([x, h], axis=1)), single

    def forget(self, indices: ArrayLike | int) -> None:
        """Remove stored patterns exactly.

        Afterwards the memory is, bit for bit, the one that stored only the
        remaining patterns, in their original order: it is rebuilt from its
        options with them.

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
            Repeated indices, indices that are not integers.
        """
        _forget.forget(self, indices)

    def retrieve(
        self,
        queries: ArrayLike,
        *,
        hidden: ArrayLike | None = None,
        dt: float = 0.01,
        t_max: float = 100.0,
        tol: float = 1e-6,
        record: int | None = None,
        trajectory: bool = False,
        clamp: ArrayLike | None = None,
    ) -> HiddenRetrieval:
        """Integrate the flow from feature states ``x(0)`` to a fixed point.

        Parameters
        ----------
        queries : array_like
            Initial feature states ``x(0)``, real ``(B, N)`` or one ``(N,)``.
        hidden : array_like, optional
            Initial hidden states ``(B, P)``; default ``h(0) = Ξ g(x(0))``
            (the hidden neurons at rest given the cue).
        dt : float
            Step, ``0 < dt ≤ min(τ_f, τ_h)`` (exponential Euler per population).
        t_max, tol, record, trajectory :
            As :meth:`GradedHopfieldNetwork.retrieve`.
        clamp : array_like of bool or None
            A partial cue over the *feature* neurons (the visible units; the
            hidden neurons are never clamped): a boolean mask of shape
            ``(N,)`` or ``(B, N)``, True where a feature is known. Clamped
            features keep their query values for the whole run
            (``dx_i/dt = 0``); the free features and every hidden neuron
            evolve. ``rate`` and convergence are over the free components;
            ``energy`` is the energy of the whole state. With the identity
            or tanh feature Lagrangian (a sum over features) it differs
            from the energy of the free components by a constant and never
            increases; with ``"layernorm"`` every ``g_i`` depends on every
            feature, so descent is not guaranteed under a clamp.
            ``None`` (default) or an all-False mask: every neuron is free.

        Returns
        -------
        HiddenRetrieval

        Raises
        ------
        ValueError, TypeError
            For an option out of its range or of the wrong type, naming it;
            a ``clamp`` that is not a boolean array (``TypeError``) of shape
            ``(N,)`` or ``(B, N)`` (``ValueError``).
        """
        engine = self._engine()
        s, single = self._states(queries, hidden)
        held = _held(clamp, self.n, s.shape[0])
        dt_ = _positive(dt, "dt")
        bound = min(self.tau_f, self.tau_h)
        if dt_ > bound:
            raise ValueError(
                f"dt must be at most min(tau_f, tau_h) = {bound} (the step's stability bound), "
                f"got {dt!r}"
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
        out = engine.integrate(
            s,
            dt=dt_,
            max_steps=steps,
            tol=float(tol),
            record=record,
            trajectory=bool(trajectory),
            clamp=held,
        )
        states, nsteps, converged, rate, energy, trace, path = out
        x, h = states[:, : self.n], states[:, self.n :]
        signs = np.where(x >= 0, 1, -1).astype(np.int8)
        times = None if trace is None else np.arange(trace.shape[1]) * (record or 1) * dt_
        if single:
            return HiddenRetrieval(
                x[0],
                h[0],
                signs[0],
                int(nsteps[0]),
                bool(converged[0]),
                float(rate[0]),
                float(energy[0]),
                times,
                None if trace is None else trace[0],
                None if path is None else path[0],
            )
        return HiddenRetrieval(x, h, signs, nsteps, converged, rate, energy, times, trace, path)

    def energy(self, features: ArrayLike, hidden: ArrayLike | None = None) -> np.ndarray | float:
        """The energy of states ``(x, h)`` (``h`` defaults to ``Ξ g(x)``):
        float64 ``(B,)``, or a float for one ``(N,)`` state."""
        engine = self._engine()
        s, single = self._states(features, hidden)
        bound = min(self.tau_f, self.tau_h)
        e = engine.integrate(s, dt=bound, max_steps=0, tol=0.0, record=None, trajectory=False)[4]
        return float(e[0]) if single else e

    def _get_state(self) -> State:
        params: dict[str, Any] = {
            "n": self.n,
            "lagrangian": self.lagrangian,
            "feature": self.feature,
            "degree": self.degree,
            "threads": self.threads,
            **self._params,
        }
        return params, {"patterns": self._patterns}

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> HiddenNeuronMemory:
        mem = cls(**params)
        if arrays["patterns"].shape[0]:
            mem.store(arrays["patterns"])
        return mem
