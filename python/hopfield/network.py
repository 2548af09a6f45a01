"""The classical Hopfield network."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from . import _validate
from ._alloc import ensure_fits
from ._core import MAX_N, Diluted, Hebbian, Weights, overlap_matrix
from ._core import sweep_orders as _sweep_orders
from ._spin_model import SpinModel
from .persist import State, pack_spins, unpack_spins

RULES = ("hebbian", "storkey", "pseudoinverse", "covariance")


class HopfieldNetwork(SpinModel):
    """A classical Hopfield network of ``n`` binary neurons.

    Every rule shares the energy, the field and the dynamics:

    * energy ``E(s) = -½ sᵀWs + θᵀs``;
    * local field ``h_i = Σ_j W_ij s_j - θ_i``; a neuron takes the sign of
      its field and keeps its state when the field is exactly zero.

    The rules differ in ``W`` (patterns ``ξ^μ`` are the rows of ``X``):

    * ``"hebbian"`` (default): ``W = (1/N) Σ_μ ξ^μ ξ^μᵀ``, ``W_ii = 0``. Kept
      as bit-packed patterns (one bit per neuron per pattern), fields through
      them: no ``N × N`` matrix, exact integer arithmetic. Capacity ≈ 0.138 N
      for random patterns, far less for correlated ones.
    * ``"storkey"`` (Storkey 1997): incremental, local, ``W_ii = 0``; for each
      new ξ with ``H = Wξ``:
      ``W_ij += (ξ_i ξ_j − ξ_i H_j − H_i ξ_j + 2 W_ij) / N`` (``i ≠ j``), i.e.
      the local fields ``h_ij = H_i − W_ij ξ_j`` exclude ``i`` and ``j``.
      Higher capacity than Hebbian, still appendable.
    * ``"pseudoinverse"`` (projection rule): ``W = Xᵀ (X Xᵀ)⁻¹ X``, the
      projector onto the span of the patterns, so correlated patterns are
      stored as well as orthogonal ones (up to ``P < N`` linearly
      independent patterns). Linearly dependent patterns raise
      ``ValueError`` (never NaN). ``store`` recomputes from all patterns.
    * ``"covariance"`` (Tsodyks & Feigel'man 1988) for biased patterns with a
      fraction ``a = activity`` of +1 entries, mean spin ``m = 2a − 1``:
      ``W_ij = Σ_μ (ξ_i^μ − m)(ξ_j^μ − m) / (N (1 − m²))``, ``W_ii = 0``, with
      the stabilising threshold ``θ = −m = 1 − 2a`` by default (a stored
      pattern sees ``h_i ≈ ξ_i − m − θ``: ``+1`` units ``2(1−a) − θ``, ``−1``
      units ``−2a − θ``, and ``θ = 1 − 2a`` puts the two at ``±1``).
      Patterns with exactly ``a·N`` active units store best: a pattern whose
      own activity deviates from ``a`` adds a term common to every field.

    The rules other than Hebbian keep a float32 ``N × N`` matrix (rounded onto
    an exact grid, see :meth:`from_weights`): ``4·N²`` bytes, plus the packed
    patterns and, for Storkey, ``8·P·N`` bytes of low-rank factors, never a
    float64 matrix. Each store writes the matrix once from a product of rank
    ``O(P)`` (Storkey in low-rank form, the pseudo-inverse as ``YᵀY`` with
    ``Y = L⁻¹X``, covariance from the exact integer overlaps), each weight
    summed in float64 and rounded once, so it is the float64 formula's value
    or one float32 step from it; storing in several calls gives the same
    bits as one. While a store runs the old and new matrices both exist
    (``8·N²`` bytes). A matrix that cannot fit raises ``MemoryError`` before
    anything is allocated.

    Parameters
    ----------
    n : int
        Number of neurons, at least 1.
    rule : {"hebbian", "storkey", "pseudoinverse", "covariance"}
        The learning rule.
    threshold : float, array_like or "auto", optional
        The thresholds θ: a scalar for every neuron or an array of ``n``
        finite values. ``"auto"`` (default): 0, except the stabilising
        ``1 − 2·activity`` for the covariance rule.
    zero_diagonal : bool, optional
        Pseudo-inverse only: zero ``W_ii`` after projecting (default True;
        ``False`` keeps the projector, whose diagonal ``W_ii ≥ 0`` makes
        more states stable).
    activity : float, optional
        Covariance only (required there): the fraction ``a`` of +1 entries
        of the patterns, in (0, 1).
    dilution : float, optional
        Keep each symmetric connection ``i–j`` with probability ``c`` in
        (0, 1] (drawn once from ``seed``; the same graph for every rule).
        Hebbian: stored sparsely (compressed rows of exact integer weights
        ``Σ_μ ξ_iξ_j``, ``W_ij = that/N``): memory ``≈ 8·c·N²`` bytes,
        ``O(c·N)`` per flip. Other rules learn on the full matrix and zero
        the weights of missing connections (dense storage).
        ``N = 100,000`` with ~100 connections each takes ~80 MB. At ``c = 1``
        it retrieves exactly like the dense Hebbian network; capacity scales
        with the connections per neuron, ``c·N``.
    seed : int, optional
        With ``dilution``: the seed of the connectivity (``None``: fresh).

    Examples
    --------
    >>> import hopfield as hf
    >>> patterns = hf.random_patterns(10, 256, seed=0)
    >>> net = hf.HopfieldNetwork(256)
    >>> net.store(patterns)
    >>> res = net.retrieve(hf.corrupt(patterns, flip=0.1, seed=1), seed=2)
    >>> bool((res.states == patterns).all())
    True

    On strongly correlated patterns (letters) the pseudo-inverse rule
    recalls what Hebbian cannot:

    >>> letters, shape = hf.letter_patterns("ABCHTX")
    >>> pinv = hf.HopfieldNetwork(letters.shape[1], rule="pseudoinverse")
    >>> pinv.store(letters)
    >>> res = pinv.retrieve(hf.corrupt(letters, flip=0.1, seed=3), seed=4)
    >>> bool((res.states == letters).all())
    True
    """

    _engine: Hebbian | Weights | Diluted
    _rule: str | None
    _dilution: float | None = None

    def __init__(
        self,
        n: int,
        *,
        rule: str = "hebbian",
        threshold: float | ArrayLike | Literal["auto"] = "auto",
        zero_diagonal: bool = True,
        activity: float | None = None,
        dilution: float | None = None,
        seed: int | None = None,
    ) -> None:
        n = _validate.positive_int(n, "n")
        rule = _validate.choice(rule, "rule", RULES)
        if not isinstance(zero_diagonal, (bool, np.bool_)):
            raise TypeError(f"zero_diagonal must be a bool, got {type(zero_diagonal).__name__}")
        if not zero_diagonal and rule != "pseudoinverse":
            raise ValueError(
                "zero_diagonal=False is only meaningful for rule='pseudoinverse' "
                f"(rule {rule!r} always has a zero diagonal)"
            )
        if activity is not None:
            if rule != "covariance":
                raise ValueError(f"activity is only used by rule='covariance', not {rule!r}")
            if not _validate.is_real(activity) or not 0.0 < float(activity) < 1.0:
                raise ValueError(
                    f"activity must be a number strictly between 0 and 1, got {activity!r}"
                )
            activity = float(activity)
        elif rule == "covariance":
            raise ValueError(
                "rule='covariance' needs activity=a, the fraction of +1 entries in the patterns"
            )
        if dilution is not None:
            if not _validate.is_real(dilution) or not 0.0 < float(dilution) <= 1.0:
                raise ValueError(f"dilution must be a number in (0, 1], got {dilution!r}")
            if n >= 2**32:
                raise ValueError(f"n must be below 2**32 with dilution, got {n}")
        elif seed is not None:
            raise ValueError("seed is only used with dilution (it draws the connections)")
        if rule == "hebbian" and dilution is None and n > MAX_N:
            raise ValueError(f"n must be at most {MAX_N}, got {n}")
        if rule != "hebbian":
            if n >= 2**64:
                raise MemoryError(
                    f"rule {rule!r} with n = {n} needs n × n weight matrices, "
                    "more than can be allocated"
                )
            Weights.check_size(n)  # MemoryError before anything of size n is built
        if isinstance(threshold, str) and threshold == "auto":
            threshold = 1.0 - 2.0 * activity if activity is not None else 0.0
        theta = _validate.threshold(threshold, n)
        self._rule = rule
        self._dilution = None if dilution is None else float(dilution)
        # What save/pickle need to rebuild this network exactly: the options
        # and the size of every store (learning is replayed batch by batch,
        # so float rounding is the same).
        self._options: dict[str, Any] = {
            "n": n,
            "rule": rule,
            "zero_diagonal": bool(zero_diagonal),
            "activity": None if activity is None else float(activity),
            "dilution": self._dilution,
            "seed": None if dilution is None else _validate.seed(seed),
        }
        self._batches: list[int] = []
        if dilution is not None and rule == "hebbian":
            self._engine = Diluted(n, theta, float(dilution), _validate.seed(seed))
        elif rule == "hebbian":
            self._engine = Hebbian(n, theta)
        else:
            self._engine = Weights.learning(
                n,
                theta,
                rule,
                zero_diagonal=bool(zero_diagonal),
                activity=activity,
                dilution=None if dilution is None else float(dilution),
                seed=_validate.seed(seed) if dilution is not None else 0,
            )

    @classmethod
    def from_weights(
        cls, weights: ArrayLike, *, threshold: float | ArrayLike = 0.0
    ) -> HopfieldNetwork:
        """A network over a weight matrix you bring.

        Any real square matrix is accepted. It is converted to ``float32``
        and rounded once onto a fixed-point grid fine enough that every
        weight of magnitude at least ``max|W|·2**(⌈log₂N⌉−26)`` is unchanged
        (:func:`hopfield.reference.quantize_weights`); on that grid every
        field is an exact ``float64`` sum, so retrieval decisions (and ties)
        do not depend on the order of summation and agree bit for bit with
        :mod:`hopfield.reference`. The field ``h_i = Σ_j W_ij s_j − θ_i``
        includes the diagonal term.

        Weights that are small integers ``|c| ≤ 127`` times one common factor
        ``α`` up to float rounding (a float ``X.T @ X / N`` with zero
        diagonal, say; :func:`hopfield.reference.common_factor`) are taken as
        exactly ``α·C``: the fields are ``α·(C s) − θ`` with ``C s`` an exact
        integer, so a tie (``C s == θ/α``) is a tie of the integer matrix and
        Hebbian weights retrieve exactly as :class:`HopfieldNetwork` does.
        For other float weights a tie means ``Σ_j W'_ij s_j == θ_i`` in exact
        arithmetic on the stored float32 numbers ``W'``, which carry the
        rounding of however ``W`` was computed: a field that is zero in exact
        arithmetic on the real-valued weights may be decided by that rounding.

        * Symmetric with a zero diagonal: the energy ``E(s) = −½ sᵀWs + θᵀs``
          never increases under async updates (the classical guarantee).
        * Symmetric with a non-zero diagonal: the energy is defined; async
          descent is still monotone while the diagonal is non-negative.
        * Asymmetric: accepted, and both update modes run (sync is the usual
          choice; convergence is not guaranteed, ``max_sweeps`` bounds the
          run). There is no energy function: :meth:`energy` raises
          ``ValueError`` and ``Retrieval.energy`` is NaN.

        Parameters
        ----------
        weights : array_like
            ``(N, N)`` real, finite weights. Never modified.
        threshold : float or array_like, optional
            The thresholds θ: a scalar or ``N`` finite values. Default 0.

        Returns
        -------
        HopfieldNetwork
            A network with ``rule=None``; it has no stored patterns and
            :meth:`store` is not available.

        Examples
        --------
        >>> import numpy as np, hopfield as hf
        >>> net = hf.HopfieldNetwork.from_weights(np.array([[0.0, 1.0], [1.0, 0.0]]))
        >>> net.retrieve([1, -1], update="async", order="sequential", seed=0).states
        array([-1, -1], dtype=int8)
        """
        w = _validate.weight_matrix(weights, "weights")
        n = w.shape[0]
        net = cls.__new__(cls)
        net._engine = Weights(w, _validate.threshold(threshold, n))
        net._rule = None
        net._dilution = None
        net._options = {"n": n, "rule": None}
        net._batches = []
        return net

    def __repr__(self) -> str:
        rule = "" if self._rule == "hebbian" else f", rule={self._rule!r}"
        return f"HopfieldNetwork(n={self.n}{rule}, num_patterns={self.num_patterns})"

    @property
    def rule(self) -> str | None:
        """The learning rule (``"hebbian"``, ...), or ``None`` for :meth:`from_weights`."""
        return self._rule

    @property
    def dilution(self) -> float | None:
        """The connection probability ``c`` of a diluted network, else ``None``."""
        return self._dilution

    @property
    def connections(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Diluted Hebbian networks: the connected pairs ``(E, 2)`` (both
        directions) and their weights ``W_ij`` (float64 ``(E,)``); ``None``
        otherwise (other diluted rules keep a dense matrix: see ``weights``)."""
        if not isinstance(self._engine, Diluted):
            return None
        pairs, values = self._engine.connectivity()
        return pairs, values.astype(np.float64) / self.n

    @property
    def symmetric(self) -> bool:
        """Whether the weight matrix is symmetric (always true for learnt rules
        other than sequences; checked exactly for :meth:`from_weights`)."""
        if isinstance(self._engine, Weights):
            return self._engine.symmetric
        return True

    @property
    def nbytes(self) -> int:
        """Bytes of memory the network holds, including caches built by
        retrieval. Hebbian: ``P·⌈N/64⌉·8`` for the packed patterns plus
        ``8·N`` for the thresholds; once a retrieval has run, the layout it
        prepared, kept until the next ``store`` (a copy of the packed
        patterns, the patterns by neuron as int16, ``2·N·⌈P/64⌉·64`` bytes,
        their bit planes, ``8·N·⌈P/64⌉``, and by pattern pairs,
        ``64·⌈N/16⌉·⌈P/2⌉``); after 64 queries, where ``P ≤ 127`` and
        ``N ≤ 2048``, the integer weights as int8, ``N²`` bytes. Other rules: the
        float32 ``N × N`` weights, the packed patterns, Storkey's ``8·P·N``
        bytes of factors and ``16·N`` for thresholds and diagonal (no float64
        matrix is kept). Weights that are small integers times one common
        factor (see :meth:`from_weights`; learnt covariance weights at
        ``activity=0.5`` are Hebbian ``C/N``) add an ``int8`` copy, ``N²``
        bytes."""
        return self._engine.nbytes

    @property
    def threshold(self) -> np.ndarray:
        """The thresholds θ, a new float64 array ``(N,)``."""
        return self._engine.threshold()

    @property
    def weights(self) -> np.ndarray:
        """The weights ``W``, a new ``(N, N)`` array.

        Hebbian: float64, zero diagonal, materialised on request (retrieval
        never needs it). Other rules and :meth:`from_weights`: the stored
        float32 matrix (rounded onto the exact grid). Raises ``MemoryError``
        when a copy cannot fit.
        """
        if isinstance(self._engine, Diluted):
            n = self.n
            if n * n * 8 > 2**31:
                raise MemoryError(
                    f"a dense {n} × {n} weight matrix of a diluted network is not built "
                    "above 2 GiB; use connections"
                )
            pairs, values = self.connections or (np.empty((0, 2), np.int64), np.empty(0))
            w = np.zeros((n, n))
            w[pairs[:, 0], pairs[:, 1]] = values
            return w
        return self._engine.weights()

    def _get_state(self) -> State:
        params = {**self._options, "batches": list(self._batches)}
        arrays = {"threshold": self.threshold}
        if isinstance(self._engine, Weights) and self._rule is None:
            arrays["weights"] = self._engine.weights()  # built from_weights: W is the state
        else:
            arrays["patterns"] = pack_spins(self.patterns)
        return params, arrays

    @classmethod
    def _from_state(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> HopfieldNetwork:
        if params["rule"] is None:
            return cls.from_weights(arrays["weights"], threshold=arrays["threshold"])
        n, theta = params["n"], arrays["threshold"]
        if not isinstance(n, int) or theta.shape != (n,):
            # Checked first: a huge n would otherwise be refused as a size.
            raise ValueError(f"n = {n!r} does not match the {theta.shape} thresholds")
        net = cls(
            params["n"],
            rule=params["rule"],
            threshold=arrays["threshold"],
            zero_diagonal=params["zero_diagonal"],
            activity=params["activity"],
            dilution=params["dilution"],
            seed=params["seed"],
        )
        patterns = unpack_spins(arrays["patterns"], net.n)
        batches = params["batches"]
        if sum(batches) != len(patterns):
            raise ValueError(f"{len(patterns)} patterns do not split into batches {batches}")
        start = 0
        for size in batches:
            net.store(patterns[start : start + size])
            start += size
        return net

    def store(self, patterns: ArrayLike) -> None:
        """Store patterns, adding to those already stored.

        Hebbian, Storkey and covariance learning are incremental; the
        pseudo-inverse rule recomputes ``W`` from all stored patterns and
        raises ``ValueError`` (storing nothing) when the patterns become
        linearly dependent.

        Parameters
        ----------
        patterns : array_like
            One pattern ``(N,)`` or several ``(P, N)``, as spins (bool, {0, 1}
            or {-1, +1}, any numeric dtype).
        """
        if self._rule is None:
            raise ValueError(
                "store: this network was built from_weights and has no learning rule; "
                "build HopfieldNetwork(n, rule=...) to learn patterns"
            )
        batch, _ = _validate.spin_batch(patterns, self.n, "patterns")
        self._engine.store(batch)
        self._batches.append(len(batch))

    def energy(self, states: ArrayLike) -> np.ndarray | float:
        """Energy ``E(s) = -½ sᵀWs + θᵀs`` of one state ``(N,)`` or a batch ``(B, N)``.

        Raises ``ValueError`` for an asymmetric weight matrix, which has no
        energy function.
        """
        if not self.symmetric:
            raise ValueError(
                "energy: the weight matrix is not symmetric, so the network has no energy "
                "function (the dynamics descend nothing); fields and retrieve still work"
            )
        return super().energy(states)

    def fields(self, states: ArrayLike) -> np.ndarray:
        """Local fields ``h = W s - θ``, shape ``(N,)`` or ``(B, N)``."""
        batch, single = _validate.spin_batch(states, self.n, "states")
        h = self._engine.fields(batch)
        return h[0] if single else h

    def overlaps(self, states: ArrayLike) -> np.ndarray:
        """Overlaps ``ξ^μ·s / N`` with every stored pattern, ``(P,)`` or ``(B, P)``."""
        if not isinstance(self._engine, Weights):
            return super().overlaps(states)
        # A weight matrix keeps its learnt patterns apart, in its rule.
        batch, single = _validate.spin_batch(states, self.n, "states")
        m = overlap_matrix(batch, self.patterns)
        return m[0] if single else m


def sweep_orders(n: int, sweeps: int, *, seed: int, count: int = 1, first: int = 0) -> np.ndarray:
    """The neuron orders that ``order="random"`` uses.

    Query number ``q`` of a batch (its row index) under ``seed`` updates its
    neurons in sweep ``t`` in the order ``sweep_orders(n, sweeps, seed=seed,
    count=B)[q, t]``. Pass these to :func:`hopfield.reference.retrieve_async`
    to reproduce a Rust retrieval exactly in NumPy.

    Parameters
    ----------
    n : int
        Number of neurons.
    sweeps : int
        Number of sweeps.
    seed : int
        The seed given to ``retrieve``.
    count : int
        Number of queries.
    first : int
        Index of the first query.

    Returns
    -------
    numpy.ndarray
        ``int64`` array ``(count, sweeps, n)``.
    """
    n = _validate.positive_int(n, "n")
    sweeps = _validate.positive_int(sweeps, "sweeps", minimum=0)
    count = _validate.positive_int(count, "count", minimum=0)
    first = _validate.positive_int(first, "first", minimum=0)
    if seed is None:
        raise TypeError("seed must be an integer: orders are only reproducible for a given seed")
    if first + count > 2**64:
        raise ValueError(f"first + count must be at most 2**64, got {first + count}")
    ensure_fits(8 * n * sweeps * count, "the requested orders")
    return _sweep_orders(n, sweeps, _validate.seed(seed), count, first)
