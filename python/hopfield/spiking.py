"""A spiking associative memory: leaky integrate-and-fire neurons with synaptic currents."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _validate
from ._core import Spiking
from .graded import _dense, _real_batch
from .persist import Persistent, State

_PARAMS = ("tau", "tau_syn", "threshold", "reset", "refractory", "noise", "bias")


@dataclass(frozen=True)
class SpikingRun:
    """What :meth:`SpikingHopfieldNetwork.simulate` returned.

    Spikes are sparse: spike ``k`` is neuron ``neuron[k]`` of cue ``cue[k]``
    firing at ``time[k]``, sorted by cue, then time, then neuron.

    Attributes
    ----------
    cue : numpy.ndarray
        int64 ``(S,)``: the cue (row of the batch) of each spike (all 0 for one cue).
    neuron : numpy.ndarray
        int64 ``(S,)``: the neuron that fired.
    time : numpy.ndarray
        float64 ``(S,)``: when, ``(step + 1)·dt`` (the end of the step in
        which the threshold was reached).
    times : numpy.ndarray
        float64 ``(T,)``: the ends of the readout bins.
    overlaps : numpy.ndarray
        float64 ``(B, T, P)`` (``(T, P)`` for one cue): per bin and pattern,
        the Pearson correlation over neurons of the spike counts (the rates)
        with the pattern; 1 for the pattern's neurons firing alike and the
        others silent, about 0 for an unrelated pattern, 0 with no spikes.
    num_cues : int
        ``B``.
    n : int
        Number of neurons.
    duration : float
        Simulated time (``steps·dt``).
    """

    cue: np.ndarray
    neuron: np.ndarray
    time: np.ndarray
    times: np.ndarray
    overlaps: np.ndarray
    num_cues: int
    n: int
    duration: float

    def raster(self, cue: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(time, neuron)`` of the spikes of one cue."""
        keep = self.cue == cue
        return self.time[keep], self.neuron[keep]

    def rates(self, start: float = 0.0, stop: float | None = None) -> np.ndarray:
        """Firing rates float64 ``(B, N)`` (spikes per unit time) over ``(start, stop]``."""
        stop = self.duration if stop is None else stop
        if not stop > start:
            raise ValueError(f"stop must be above start, got start={start}, stop={stop}")
        keep = (self.time > start) & (self.time <= stop)
        counts = np.zeros((self.num_cues, self.n))
        np.add.at(counts, (self.cue[keep], self.neuron[keep]), 1.0)
        return counts / (stop - start)


def _real(value: Any, name: str, *, minimum: float | None = None, strict: bool = False) -> float:
    if not _validate.is_real(value):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and (x < minimum or (strict and x == minimum)):
        op = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {op} {minimum}, got {value!r}")
    return x


def _binary(patterns: ArrayLike, n: int) -> np.ndarray:
    """0/1 (or bool) patterns as a new uint8 ``(P, n)`` array."""
    try:
        raw = np.asarray(patterns)
    except (TypeError, ValueError):
        raise TypeError("patterns must be an array of 0/1 values") from None
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"patterns must be an array of 0/1 values, got dtype {raw.dtype}")
    batch, _ = _validate.as_batch(raw, n, "patterns", dim="n", what="0/1 values")
    if batch.shape[0] == 0:
        raise ValueError("patterns must hold at least one pattern")
    if not np.isin(batch, (0, 1)).all():
        raise ValueError("patterns must hold 0/1 values (sparse patterns; not ±1)")
    return np.array(batch, dtype=np.uint8)


class SpikingHopfieldNetwork(Persistent):
    r"""An associative memory of leaky integrate-and-fire (LIF) neurons.

    Neuron ``i`` has a membrane potential ``u_i`` (rest 0, unit membrane
    resistance, so currents are in units of potential) and a synaptic
    current ``s_i``:

    ``τ du_i/dt = −u_i + s_i(t) + e_i(t)``,
    ``s_i(t) = Σ_j w_ij Σ_f ε(t − t_j^f)``,  ``ε(t) = e^{−t/τ_s}/τ_s``,

    so each spike of ``j`` delivers the charge ``w_ij``. When ``u_i``
    reaches the threshold ``ϑ`` the neuron fires, is reset to ``u_r`` and
    held there for the absolute refractory period ``t_ref``. With escape
    noise of width ``Δ = noise > 0`` the threshold is soft instead: the
    neuron fires with hazard ``ρ(u) = e^{(u−ϑ)/Δ}/τ``. ``e_i`` is a constant
    ``bias`` plus, while a cue lasts, ``cue_current`` times the cue.

    Under a constant current ``I > ϑ`` a neuron (reset 0) fires at
    ``1/(t_ref + τ ln(I/(I − ϑ)))``. Time is in the unit of ``tau``
    (milliseconds by convention: the defaults are 20 ms, 5 ms and 2 ms).

    Patterns are sparse 0/1 vectors of activity ``a``; they are stored by
    the covariance rule ``W = J/(N a(1 − a)) Σ_μ (ξ^μ − a)(ξ^μ − a)ᵀ``
    (zero diagonal, ``J = strength``): a pattern's neurons excite each
    other, the rest are inhibited, and a pattern, once cued, is held as
    persistent activity (a second, high-rate fixed point next to the silent
    one). Any weight matrix is accepted through :meth:`from_weights`.

    The simulation runs in the Rust core: between spikes the leak and the
    synaptic current are integrated exactly over each step, spikes are
    delivered as events (a spike adds one row of ``W`` to the currents, so
    the recurrent input costs ``O(spikes·N)``, not ``O(N²)`` per step), the
    cues run in parallel on all cores with the GIL released, and Ctrl-C is
    seen between chunks of cues. Each cue's noise comes from its own stream
    of the seed, so results do not depend on ``threads`` or batch splits.

    Parameters
    ----------
    n : int
        Number of neurons.
    tau : float
        Membrane time constant ``τ > 0``.
    tau_syn : float
        Synaptic time constant ``τ_s > 0``.
    threshold : float
        Firing threshold ``ϑ``.
    reset : float
        Reset (and initial) potential ``u_r < ϑ``.
    refractory : float
        Absolute refractory period ``t_ref >= 0``.
    noise : float
        Escape-noise width ``Δ >= 0`` (0: a hard threshold, deterministic).
    bias : float
        Constant input current of every neuron.
    strength : float
        ``J`` of the covariance rule.
    activity : float or None
        ``a`` of the covariance rule, in (0, 1); ``None`` takes the mean
        activity of the patterns stored.
    threads : int or None
        Threads for the work; ``None`` uses all cores.

    Examples
    --------
    >>> import numpy as np, hopfield as hf
    >>> rng = np.random.default_rng(0)
    >>> x = (rng.random((3, 400)) < 0.1).astype(np.uint8)
    >>> net = hf.SpikingHopfieldNetwork(400)
    >>> net.store(x)
    >>> run = net.simulate(x[0], duration=300.0, cue_duration=50.0, seed=1)
    >>> bool(run.overlaps[-1, 0] > 0.9)
    True
    """

    def __init__(
        self,
        n: int,
        *,
        tau: float = 20.0,
        tau_syn: float = 5.0,
        threshold: float = 1.0,
        reset: float = 0.0,
        refractory: float = 2.0,
        noise: float = 0.0,
        bias: float = 0.0,
        strength: float = 50.0,
        activity: float | None = None,
        threads: int | None = None,
    ) -> None:
        n = _validate.positive_int(n, "n")
        self._strength = _real(strength, "strength")
        if activity is not None:
            activity = _real(activity, "activity")
            if not 0 < activity < 1:
                raise ValueError(f"activity must be in (0, 1), got {activity!r}")
        self._activity = activity
        self._patterns: np.ndarray | None = np.zeros((0, n), dtype=np.uint8)
        self._weights = np.zeros((n, n))
        self._setup(n, tau, tau_syn, threshold, reset, refractory, noise, bias, threads)

    def _setup(self, n: int, *params: Any) -> None:
        *lif, threads = params
        self._n = n
        values = {}
        for name, value in zip(_PARAMS, lif, strict=True):
            if name in ("tau", "tau_syn"):
                values[name] = _real(value, name, minimum=0.0, strict=True)
            elif name in ("refractory", "noise"):
                values[name] = _real(value, name, minimum=0.0)
            else:
                values[name] = _real(value, name)
        if values["reset"] >= values["threshold"]:
            raise ValueError(
                f"reset must be below threshold = {values['threshold']}, got {values['reset']}"
            )
        self._lif = values
        if threads is not None:
            threads = _validate.positive_int(threads, "threads")
        self._threads = threads
        self._core: Spiking | None = None

    @classmethod
    def from_weights(
        cls,
        weights: ArrayLike,
        *,
        tau: float = 20.0,
        tau_syn: float = 5.0,
        threshold: float = 1.0,
        reset: float = 0.0,
        refractory: float = 2.0,
        noise: float = 0.0,
        bias: float = 0.0,
        threads: int | None = None,
    ) -> SpikingHopfieldNetwork:
        """A network over a real square weight matrix you bring (``w_ij``: from
        ``j`` to ``i``, the charge one spike of ``j`` delivers to ``i``; kept
        as float64). It stores no patterns: give ``readout=`` to
        :meth:`simulate` for overlaps."""
        w = _dense(weights)
        net = cls.__new__(cls)
        net._strength = math.nan
        net._activity = None
        net._patterns = None
        net._weights = w
        net._setup(w.shape[0], tau, tau_syn, threshold, reset, refractory, noise, bias, threads)
        return net

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._lif.items())
        return f"SpikingHopfieldNetwork(n={self.n}, {params}, num_patterns={self.num_patterns})"

    @property
    def n(self) -> int:
        """Number of neurons N."""
        return self._n

    @property
    def tau(self) -> float:
        """Membrane time constant τ."""
        return self._lif["tau"]

    @property
    def tau_syn(self) -> float:
        """Synaptic time constant τ_s."""
        return self._lif["tau_syn"]

    @property
    def threshold(self) -> float:
        """Firing threshold ϑ."""
        return self._lif["threshold"]

    @property
    def reset(self) -> float:
        """Reset potential u_r."""
        return self._lif["reset"]

    @property
    def refractory(self) -> float:
        """Absolute refractory period t_ref."""
        return self._lif["refractory"]

    @property
    def noise(self) -> float:
        """Escape-noise width Δ (0: hard threshold)."""
        return self._lif["noise"]

    @property
    def bias(self) -> float:
        """Constant input current."""
        return self._lif["bias"]

    @property
    def strength(self) -> float:
        """``J`` of the covariance rule (NaN for :meth:`from_weights`)."""
        return self._strength

    @property
    def activity(self) -> float | None:
        """The activity ``a`` the weights were built with (``None`` before storing
        with ``activity=None``, and for :meth:`from_weights`)."""
        if self._activity is not None:
            return self._activity
        if self._patterns is None or len(self._patterns) == 0:
            return None
        return float(self._patterns.mean())

    @property
    def threads(self) -> int | None:
        """Threads for the work (``None``: all cores)."""
        return self._threads

    @property
    def num_patterns(self) -> int:
        """Number of stored patterns (0 for :meth:`from_weights`)."""
        return 0 if self._patterns is None else len(self._patterns)

    @property
    def patterns(self) -> np.ndarray:
        """The stored patterns, a new ``uint8`` 0/1 ``(P, N)`` array."""
        if self._patterns is None:
            return np.zeros((0, self.n), dtype=np.uint8)
        return self._patterns.copy()

    @property
    def weights(self) -> np.ndarray:
        """The weights ``W``, a new float64 ``(N, N)`` array."""
        return self._weights.copy()

    def max_dt(self) -> float:
        """The longest step :meth:`simulate` accepts: ``min(τ, τ_s)/10``."""
        return min(self.tau, self.tau_syn) / 10.0

    def store(self, patterns: ArrayLike) -> None:
        """Store sparse 0/1 patterns ``(P, N)`` (or one ``(N,)``), adding to those
        stored; the weights are rebuilt by the covariance rule from all of them.

        Raises ``ValueError`` when the activity (given, or the patterns' mean)
        is not strictly between 0 and 1.
        """
        if self._patterns is None:
            raise ValueError(
                "store: this network was built from_weights and has no learning rule; "
                "build SpikingHopfieldNetwork(n) to learn patterns"
            )
        new = _binary(patterns, self.n)
        every = np.concatenate([self._patterns, new])
        a = self._activity if self._activity is not None else float(every.mean())
        if not 0 < a < 1:
            raise ValueError(f"the patterns' activity must be in (0, 1), got {a}")
        centred = every.astype(np.float64) - a
        w = (self._strength / (self.n * a * (1.0 - a))) * (centred.T @ centred)
        np.fill_diagonal(w, 0.0)
        self._patterns = every
        self._weights = w
        self._core = None

    def _engine(self) -> Spiking:
        if self._core is None:
            self._core = Spiking(self.n, weights=self._weights, threads=self.threads, **self._lif)
        return self._core

    def simulate(
        self,
        cues: ArrayLike,
        *,
        duration: float = 200.0,
        cue_duration: float = 50.0,
        dt: float = 0.1,
        cue_current: float = 2.0,
        bin: float = 10.0,
        seed: int | None = None,
        readout: ArrayLike | None = None,
    ) -> SpikingRun:
        """Drive each cue as an input current for ``cue_duration``, then let the
        network run free until ``duration``; every neuron starts at rest
        (``u = u_r``, no synaptic current).

        Parameters
        ----------
        cues : array_like
            Real ``(B, N)`` (or one ``(N,)``), e.g. 0/1 patterns: neuron ``i``
            of cue ``b`` receives ``cue_current·cues[b, i]`` (on top of the bias)
            while the cue lasts. Zeros: no cue.
        duration : float
            Simulated time, ``> 0`` (rounded to whole steps).
        cue_duration : float
            How long the cue's current is on, ``0 <= cue_duration <= duration``.
        dt : float
            The step, ``0 < dt <= min(tau, tau_syn)/10``; spike times are on
            its grid.
        cue_current : float
            The current per unit of cue.
        bin : float
            The width of the readout bins (rounded to whole steps, at least one).
        seed : int or None
            Seed of the escape noise (cue ``b`` draws from its own stream);
            ``None`` draws a fresh one. Unused without noise.
        readout : array_like or None
            Patterns ``(P, N)`` for the overlaps (default: those stored).

        Returns
        -------
        SpikingRun
        """
        x, single = _real_batch(cues, self.n, "cues")
        dt_ = _real(dt, "dt", minimum=0.0, strict=True)
        if dt_ > self.max_dt():
            raise ValueError(
                f"dt must be at most min(tau, tau_syn)/10 = {self.max_dt()} "
                f"(resolves the synaptic kernel), got {dt!r}"
            )
        duration_ = _real(duration, "duration", minimum=0.0, strict=True)
        cue_ = _real(cue_duration, "cue_duration", minimum=0.0)
        if cue_ > duration_:
            raise ValueError(
                f"cue_duration must be at most duration = {duration_}, got {cue_duration!r}"
            )
        bin_ = _real(bin, "bin", minimum=0.0, strict=True)
        current = _real(cue_current, "cue_current")
        steps = round(duration_ / dt_)
        if steps >= 2**32:
            raise ValueError(f"duration/dt must be below 2**32 steps, got {steps}")
        bin_steps = min(max(1, round(bin_ / dt_)), 2**32 - 1)
        if readout is None:
            p = self.patterns.astype(np.float64)
        else:
            p, _ = _real_batch(readout, self.n, "readout")
        cue, neuron, step, overlaps = self._engine().simulate(
            x,
            p,
            dt=dt_,
            steps=steps,
            cue_steps=round(cue_ / dt_),
            bin_steps=bin_steps,
            cue_current=current,
            seed=seed,
        )
        times = (np.arange(overlaps.shape[1]) + 1) * bin_steps * dt_
        return SpikingRun(
            cue.astype(np.int64),
            neuron.astype(np.int64),
            (step.astype(np.float64) + 1) * dt_,
            times,
            overlaps[0] if single else overlaps,
            len(x),
            self.n,
            steps * dt_,
        )

    def _get_state(self) -> State:
        params: dict[str, Any] = dict(self._lif)
        params["threads"] = self.threads
        arrays = {"weights": self._weights}
        if self._patterns is not None:
            params["strength"] = self._strength
            params["activity"] = self._activity
            arrays["patterns"] = self._patterns
        return params, arrays

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> SpikingHopfieldNetwork:
        lif = {k: params[k] for k in (*_PARAMS, "threads")}
        if "patterns" not in arrays:
            return cls.from_weights(arrays["weights"], **lif)
        net = cls(
            arrays["weights"].shape[0],
            strength=params["strength"],
            activity=params["activity"],
            **lif,
        )
        if len(arrays["patterns"]):
            net.store(arrays["patterns"])
        return net
