"""Type stubs for the Rust extension ``hopfield._core``.

Spin arguments are C- or any-ordered ``int8`` arrays of ±1 (the Python layer
coerces user input before calling in); the extension converts nothing else
and refuses other dtypes with ``TypeError``.
"""

from typing import Final, Literal, final

import numpy as np
from numpy.typing import NDArray

# The modern memory's arrays: float32 or float64, as its dtype.
_Floats = NDArray[np.float32] | NDArray[np.float64]

__all__ = [
    "MAX_N",
    "Dense",
    "Diluted",
    "Graded",
    "Hebbian",
    "Hidden",
    "Modern",
    "ModernOutcomes",
    "Outcomes",
    "RetrieveOptions",
    "SampleOptions",
    "Sampled",
    "Spiking",
    "Weights",
    "sequence_weights",
    "__version__",
    "available_memory",
    "acceptance_uniforms",
    "detected_simd",
    "max_threads",
    "overlap_matrix",
    "random_states",
    "set_simd_level",
    "simd_level",
    "sweep_orders",
]

__version__: Final[str]
MAX_N: Final[int]
"""The largest number of neurons a network may have."""

@final
class Hebbian:
    """A Hebbian memory of bit-packed patterns (``hopfield.HopfieldNetwork``'s engine)."""

    def __new__(cls, n: int, threshold: NDArray[np.float64]) -> Hebbian: ...
    @property
    def n(self) -> int:
        """Number of neurons."""
    @property
    def num_patterns(self) -> int:
        """Number of stored patterns."""
    @property
    def nbytes(self) -> int:
        """Bytes held by the memory, including caches built by retrieval (the
        kept layout, and the int8 weights once built)."""
    def store(self, patterns: NDArray[np.int8]) -> None:
        """Appends patterns, an int8 (P, N) array of ±1."""
    def patterns(self) -> NDArray[np.int8]:
        """The stored patterns, int8 (P, N)."""
    def threshold(self) -> NDArray[np.float64]:
        """The thresholds θ, float64 (N,)."""
    def weights(self) -> NDArray[np.float64]:
        """The weight matrix W, float64 (N, N), zero diagonal."""
    def energy(self, states: NDArray[np.int8]) -> NDArray[np.float64]:
        """Energies of int8 (B, N) states, float64 (B,)."""
    def fields(self, states: NDArray[np.int8]) -> NDArray[np.float64]:
        """Local fields of int8 (B, N) states, float64 (B, N)."""
    def overlaps(self, states: NDArray[np.int8]) -> NDArray[np.float64]:
        """Overlaps ξ^μ·s / N of int8 (B, N) states, float64 (B, P)."""
    def retrieve(
        self,
        queries: NDArray[np.int8],
        options: RetrieveOptions,
        clamp: NDArray[np.int8] | None = None,
    ) -> Outcomes:
        """Runs the validated `options` from int8 (B, N) queries."""
    def sample(
        self,
        options: SampleOptions,
        init: NDArray[np.int8] | None = None,
        single: bool = False,
        clamp: NDArray[np.int8] | None = None,
    ) -> Sampled:
        """Samples the Boltzmann distribution with the validated `options`,
        chains from `init` (int8 (B, N); with `single` its one row for every
        chain) or from random states; the neurons at +1 in `clamp` (int8 ±1,
        one row or one per chain) keep their starting values."""

@final
class Dense:
    """A dense associative memory of bit-packed patterns.

    The engine of ``hopfield.DenseAssociativeMemory``.
    """

    def __new__(
        cls, n: int, *, interaction: str, degree: int, rectified: bool, beta: float
    ) -> Dense: ...
    @property
    def n(self) -> int:
        """Number of neurons."""
    @property
    def num_patterns(self) -> int:
        """Number of stored patterns."""
    @property
    def nbytes(self) -> int:
        """Bytes held by the memory."""
    @property
    def fixed_point_bits(self) -> int:
        """The fixed-point scale S of exponential decisions with the patterns
        stored now (2^S is the largest term)."""
    def store(self, patterns: NDArray[np.int8]) -> None:
        """Appends patterns, an int8 (P, N) array of ±1."""
    def patterns(self) -> NDArray[np.int8]:
        """The stored patterns, int8 (P, N)."""
    def energy(self, states: NDArray[np.int8]) -> NDArray[np.float64]:
        """Energies of int8 (B, N) states, float64 (B,)."""
    def overlaps(self, states: NDArray[np.int8]) -> NDArray[np.float64]:
        """Overlaps ξ^μ·s / N of int8 (B, N) states, float64 (B, P)."""
    def retrieve(
        self,
        queries: NDArray[np.int8],
        options: RetrieveOptions,
        clamp: NDArray[np.int8] | None = None,
    ) -> Outcomes:
        """Runs the validated `options` from int8 (B, N) queries."""
    def sample(
        self,
        options: SampleOptions,
        init: NDArray[np.int8] | None = None,
        single: bool = False,
        clamp: NDArray[np.int8] | None = None,
    ) -> Sampled:
        """Samples the Boltzmann distribution with the validated `options`,
        chains from `init` (int8 (B, N); with `single` its one row for every
        chain) or from random states; the neurons at +1 in `clamp` (int8 ±1,
        one row or one per chain) keep their starting values."""

@final
class Weights:
    """A weight-matrix memory: float32 weights on an exact grid, float64 thresholds.

    The engine of ``hopfield.HopfieldNetwork`` for every rule but Hebbian.
    """

    def __new__(cls, weights: NDArray[np.float32], threshold: NDArray[np.float64]) -> Weights: ...
    @staticmethod
    def learning(
        n: int,
        threshold: NDArray[np.float64],
        rule: str,
        *,
        zero_diagonal: bool = True,
        activity: float | None = None,
        dilution: float | None = None,
        seed: int = 0,
    ) -> Weights:
        """An empty memory learning by `rule` ("storkey", "pseudoinverse" or
        "covariance"), with thresholds θ."""
    @staticmethod
    def check_size(n: int) -> None:
        """Raises MemoryError when the N × N matrices of a learnt network of
        `n` neurons cannot be allocated."""
    def store(self, patterns: NDArray[np.int8]) -> None:
        """Learns int8 (P, N) patterns by the rule. On error nothing changes."""
    @property
    def num_patterns(self) -> int:
        """Number of stored patterns (0 for given weights)."""
    def patterns(self) -> NDArray[np.int8]:
        """The stored patterns, int8 (P, N) ((0, N) for given weights)."""
    @property
    def n(self) -> int:
        """Number of neurons."""
    @property
    def nbytes(self) -> int:
        """Bytes held by the memory."""
    @property
    def symmetric(self) -> bool:
        """Whether W equals its transpose (after rounding onto the grid)."""
    @property
    def zero_diagonal(self) -> bool:
        """Whether every diagonal weight is zero."""
    @property
    def grid_exponent(self) -> int:
        """The grid exponent k: every stored weight is a multiple of 2**-k."""
    def weights(self) -> NDArray[np.float32]:
        """The stored weights W (rounded onto the grid), float32 (N, N)."""
    def threshold(self) -> NDArray[np.float64]:
        """The thresholds θ, float64 (N,)."""
    def energy(self, states: NDArray[np.int8]) -> NDArray[np.float64]:
        """Energies of int8 (B, N) states, float64 (B,); NaN for an asymmetric W."""
    def fields(self, states: NDArray[np.int8]) -> NDArray[np.float64]:
        """Local fields h = W s − θ of int8 (B, N) states, float64 (B, N)."""
    def retrieve(
        self,
        queries: NDArray[np.int8],
        options: RetrieveOptions,
        clamp: NDArray[np.int8] | None = None,
    ) -> Outcomes:
        """Runs the validated `options` from int8 (B, N) queries."""
    def sample(
        self,
        options: SampleOptions,
        init: NDArray[np.int8] | None = None,
        single: bool = False,
        clamp: NDArray[np.int8] | None = None,
    ) -> Sampled:
        """Samples the Boltzmann distribution with the validated `options`,
        chains from `init` (int8 (B, N); with `single` its one row for every
        chain) or from random states; the neurons at +1 in `clamp` (int8 ±1,
        one row or one per chain) keep their starting values."""

@final
class RetrieveOptions:
    """The validated options of a binary model's ``retrieve``, parsed once."""

    def __new__(
        cls,
        *,
        update: object,
        max_sweeps: object,
        order: object,
        seed: object,
        threads: object,
        track_energy: object,
        temperature: object,
        sweeps: object,
        schedule: object,
        quench: bool = False,
        first_row: object = None,
    ) -> RetrieveOptions: ...
    @property
    def seed(self) -> int:
        """The seed every query's streams derive from (drawn when `seed=None`)."""
    @property
    def first_row(self) -> int:
        """The global index of the batch's first row (0 unless given)."""
    def temperatures(self) -> NDArray[np.float64]:
        """The temperature of every stochastic sweep, float64 (sweeps,) (empty
        for deterministic descent)."""

@final
class SampleOptions:
    """The validated options of ``hopfield.sample``, parsed once."""

    def __new__(
        cls,
        *,
        temperature: object,
        n_samples: object,
        burn_in: object,
        thin: object,
        seed: object,
        order: object,
        threads: object,
        chains: object,
    ) -> SampleOptions: ...

@final
class Outcomes:
    """What a binary model's retrieval returned, one entry per query."""

    @property
    def states(self) -> NDArray[np.int8]:
        """Final states, int8 (B, N)."""
    @property
    def converged(self) -> NDArray[np.bool_]:
        """Whether each query converged, bool (B,)."""
    @property
    def cycled(self) -> NDArray[np.bool_]:
        """Whether each (sync) query stopped on a 2-cycle, bool (B,)."""
    @property
    def sweeps(self) -> NDArray[np.int64]:
        """Sweeps run, int64 (B,)."""
    @property
    def energy(self) -> NDArray[np.float64]:
        """Energy of each final state, float64 (B,)."""
    @property
    def energy_trace(self) -> NDArray[np.float64] | None:
        """With `track_energy`: float64 (B, T), NaN-padded; else None."""
    def first(
        self,
    ) -> tuple[NDArray[np.int8], bool, int, float, bool, NDArray[np.float64] | None]:
        """The first query's outcome as Python values (what a one-query call
        returns), read in one call rather than five array lookups."""

@final
class Sampled:
    """What sampling recorded, chain by chain."""

    @property
    def samples(self) -> NDArray[np.int8]:
        """The samples, int8 (chains, n_samples, N)."""
    @property
    def sample_energy(self) -> NDArray[np.float64]:
        """Their energies, float64 (chains, n_samples)."""
    @property
    def final_states(self) -> NDArray[np.int8]:
        """Each chain's last state, int8 (chains, N)."""
    @property
    def final_energy(self) -> NDArray[np.float64]:
        """Their energies, float64 (chains,)."""

@final
class ModernOutcomes:
    """What the modern network's retrieval returned, one entry per query."""

    @property
    def states(self) -> NDArray[np.float32] | NDArray[np.float64]:
        """Final states, (B, d_v) of the memory's dtype (float32 or float64)."""
    @property
    def steps(self) -> NDArray[np.int64]:
        """Updates applied to each query, int64 (B,)."""
    @property
    def converged(self) -> NDArray[np.bool_]:
        """Whether each query's last update moved it by at most the tolerance, bool (B,)."""

def sweep_orders(
    n: int, sweeps: int, seed: int, count: int = 1, first: int = 0
) -> NDArray[np.int64]:
    """The neuron orders of ``order="random"``: int64 (count, sweeps, n)."""

def available_memory() -> int | None:
    """Bytes of memory the system can still give this process, or None."""

def max_threads() -> int:
    """The most threads a call may run on: 4 per available core, at least 16."""

def acceptance_uniforms(
    n: int, sweeps: int, seed: int, count: int = 1, first: int = 0
) -> NDArray[np.float64]:
    """The uniforms of the acceptance decisions of stochastic runs: float64 (count, sweeps, n)."""

def random_states(n: int, count: int, seed: int, first: int = 0) -> NDArray[np.int8]:
    """Uniformly random states, int8 (count, n); row r from the stream of (seed, first + r)."""

def overlap_matrix(states: NDArray[np.int8], patterns: NDArray[np.int8]) -> NDArray[np.float64]:
    """Overlaps ξ^μ·s / N of int8 (B, N) states with int8 (P, N) patterns, float64 (B, P)."""

def simd_level() -> str:
    """The name of the instruction set the kernels use now."""

def detected_simd() -> str:
    """The best instruction set this CPU supports."""

def set_simd_level(name: str) -> str:
    """Caps the instruction set the kernels use; returns the level now in force."""

@final
class Modern:
    """A modern Hopfield memory of float32 or float64 keys and optional values.

    The engine of ``hopfield.ModernHopfield``. Arrays given to it and
    returned by it (keys, values, queries, states) have its ``dtype``;
    energies, softmax states and attention weights are float64.
    """

    def __new__(
        cls, beta: object, threads: object, dtype: Literal["float32", "float64"] = "float32"
    ) -> Modern: ...
    @property
    def dtype(self) -> Literal["float32", "float64"]:
        """The float type of keys, values, queries and states: "float32" or "float64"."""
    @property
    def beta(self) -> float:
        """Inverse temperature β (settable: a finite number > 0)."""
    @beta.setter
    def beta(self, value: object) -> None: ...
    @property
    def threads(self) -> int | None:
        """Threads for the work (None: all cores)."""
    @property
    def dim(self) -> int:
        """Key width d (0 before the first store)."""
    @property
    def value_dim(self) -> int:
        """Value width (d without separate values)."""
    @property
    def num_patterns(self) -> int:
        """Number of stored patterns."""
    @property
    def hetero(self) -> bool:
        """Whether separate values are stored (hetero-association)."""
    @property
    def binary(self) -> bool:
        """Whether every stored key is ±1 (scores take the popcount path)."""
    @property
    def max_norm_sq(self) -> float:
        """M² = max_μ ‖k_μ‖²."""
    @property
    def nbytes(self) -> int:
        """Bytes held by the memory, including the 8-bit key codes that
        screening retrievals have made (kept until the next store)."""
    def store(self, patterns: _Floats, values: _Floats | None = None) -> None:
        """Appends (P, d) keys and, for hetero-association, (P, d_v) values,
        both arrays of the memory's dtype."""
    def keys(self) -> _Floats:
        """The stored keys, (P, d) of the memory's dtype."""
    def values(self) -> _Floats | None:
        """The stored values, (P, d_v) of the memory's dtype, or None without separate values."""
    def retrieve(
        self,
        queries: _Floats,
        *,
        steps: object,
        tol: object,
        max_steps: object,
        clamp: NDArray[np.bool_] | None = None,
        known: NDArray[np.bool_] | None = None,
    ) -> ModernOutcomes:
        """Runs the dynamics from (B, d) queries of the memory's dtype:
        `steps` updates, or with `tol` until an update moves a query by at
        most `tol` (at most `max_steps`); `clamp`/`known` (bool (B, d)) hold
        coordinates at the query and restrict the scores to known coordinates."""
    def energy(self, states: _Floats) -> NDArray[np.float64]:
        """Energies of (B, d) states of the memory's dtype, float64 (B,), computed in float64."""
    def softmax_state(
        self, queries: _Floats
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """The online-softmax state of (B, d) queries of the memory's dtype
        over the patterns: float64 `m` (B,), `l` (B,) and `o` (B, d_v), with
        `o / l` the update (see `ModernHopfield::softmax_state`)."""
    def attention(self, queries: _Floats) -> NDArray[np.float64]:
        """Softmax weights of (B, d) queries of the memory's dtype over the
        patterns, float64 (B, P)."""

def sequence_weights(
    n: int, sequences: list[NDArray[np.int8]], cyclic: bool
) -> NDArray[np.float32]:
    """Weights of the sequence rule W = (1/N) Σ ξ^{μ+1} ξ^μᵀ, float32 (N, N)."""

@final
class Diluted:
    """A diluted Hebbian memory (compressed rows of exact integer weights)."""

    def __new__(
        cls, n: int, threshold: NDArray[np.float64], dilution: float, seed: int
    ) -> Diluted: ...
    @property
    def n(self) -> int:
        """Number of neurons."""
    @property
    def num_patterns(self) -> int:
        """Number of stored patterns."""
    @property
    def nbytes(self) -> int:
        """Bytes held by the memory."""
    @property
    def connections(self) -> int:
        """Number of directed connections (twice the symmetric pairs)."""
    def store(self, patterns: NDArray[np.int8]) -> None:
        """Appends int8 (P, N) patterns and updates the connected weights."""
    def patterns(self) -> NDArray[np.int8]:
        """The stored patterns, int8 (P, N)."""
    def threshold(self) -> NDArray[np.float64]:
        """The thresholds θ, float64 (N,)."""
    def connectivity(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The connections: int64 (E, 2) pairs and int64 (E,) weights N·W_ij."""
    def energy(self, states: NDArray[np.int8]) -> NDArray[np.float64]:
        """Energies of int8 (B, N) states, float64 (B,)."""
    def fields(self, states: NDArray[np.int8]) -> NDArray[np.float64]:
        """Local fields of int8 (B, N) states, float64 (B, N)."""
    def overlaps(self, states: NDArray[np.int8]) -> NDArray[np.float64]:
        """Overlaps ξ^μ·s / N of int8 (B, N) states, float64 (B, P)."""
    def retrieve(
        self,
        queries: NDArray[np.int8],
        options: RetrieveOptions,
        clamp: NDArray[np.int8] | None = None,
    ) -> Outcomes:
        """Runs the validated `options` from int8 (B, N) queries."""
    def sample(
        self,
        options: SampleOptions,
        init: NDArray[np.int8] | None = None,
        single: bool = False,
        clamp: NDArray[np.int8] | None = None,
    ) -> Sampled:
        """Samples the Boltzmann distribution with the validated `options`,
        chains from `init` (int8 (B, N); with `single` its one row for every
        chain) or from random states; the neurons at +1 in `clamp` (int8 ±1,
        one row or one per chain) keep their starting values."""

_FlowArrays = tuple[
    NDArray[np.float64],
    NDArray[np.uint32],
    NDArray[np.bool_],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64] | None,
    NDArray[np.float64] | None,
]

@final
class Graded:
    """A graded-response network (Hopfield 1984) and its thread count.

    The engine of ``hopfield.GradedHopfieldNetwork``.
    """

    def __new__(
        cls,
        n: int,
        *,
        gain: object,
        activation: object,
        tau: object,
        input: NDArray[np.float64],
        patterns: NDArray[np.float64] | None,
        weights: NDArray[np.float64] | None,
        threads: object,
    ) -> Graded: ...
    @property
    def n(self) -> int:
        """Number of neurons."""
    @property
    def gain(self) -> float:
        """The gain γ."""
    @property
    def tau(self) -> float:
        """The time constant τ."""
    def with_gain(self, gain: object) -> Graded:
        """The same network at another gain."""
    def integrate(
        self,
        states: NDArray[np.float64],
        *,
        dt: object,
        max_steps: object,
        tol: object,
        record: object,
        trajectory: bool,
        clamp: NDArray[np.bool_] | None = None,
    ) -> _FlowArrays:
        """Integrates float64 (B, n) potentials; returns states, steps, converged,
        rate, energy, the energy trace and the trajectory. The neurons True in
        `clamp` (bool (1, n) or (B, n)) keep their starting potentials."""

@final
class Spiking:
    """A network of leaky integrate-and-fire neurons and its thread count.

    The engine of ``hopfield.SpikingHopfieldNetwork``.
    """

    def __new__(
        cls,
        n: int,
        *,
        weights: NDArray[np.float64],
        tau: object,
        tau_syn: object,
        threshold: object,
        reset: object,
        refractory: object,
        noise: object,
        bias: object,
        threads: object,
    ) -> Spiking: ...
    def simulate(
        self,
        cues: NDArray[np.float64],
        patterns: NDArray[np.float64],
        *,
        dt: object,
        steps: object,
        cue_steps: object,
        bin_steps: object,
        cue_current: object,
        seed: object,
    ) -> tuple[NDArray[np.uint64], NDArray[np.uint32], NDArray[np.uint32], NDArray[np.float64]]:
        """Simulates float64 (B, n) cues; returns the spikes (cue, neuron, step:
        time (step + 1)·dt) and the overlaps (B, bins, P) of the spike counts
        with the patterns."""

@final
class Hidden:
    """A hidden-neuron memory (Krotov & Hopfield 2021) and its thread count.

    The engine of ``hopfield.HiddenNeuronMemory``.
    """

    def __new__(
        cls,
        patterns: NDArray[np.float64],
        *,
        feature: object,
        hidden: object,
        gain: object,
        gamma: object,
        eps: object,
        beta: object,
        degree: object,
        tau_f: object,
        tau_h: object,
        input: NDArray[np.float64],
        threads: object,
    ) -> Hidden: ...
    @property
    def n(self) -> int:
        """Number of feature neurons."""
    @property
    def num_patterns(self) -> int:
        """Number of hidden neurons (stored patterns)."""
    def rest_hidden(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """The hidden neurons at rest given float64 (B, n) features: Ξ g(x), (B, P)."""
    def integrate(
        self,
        states: NDArray[np.float64],
        *,
        dt: object,
        max_steps: object,
        tol: object,
        record: object,
        trajectory: bool,
        clamp: NDArray[np.bool_] | None = None,
    ) -> _FlowArrays:
        """Integrates float64 (B, n + P) states [x | h]; returns as Graded.integrate.
        `clamp` (bool (1, n) or (B, n)) holds feature neurons only."""
