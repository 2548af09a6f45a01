"""The classic experiments on associative memories, as one-line calls.

* :func:`capacity_curve` — store more and more random patterns and watch
  retrieval collapse near ``α_c ≈ 0.138`` (see :mod:`hopfield.theory`);
* :func:`noise_robustness` — retrieval quality against the fraction of
  flipped spins in the query;
* :func:`basin_size` — per pattern, the largest corruption still recalled;
* :func:`spurious_census` — the attractors reached from random states,
  classified as stored, reversed, mixtures or spin-glass/other;
* :func:`similarity_matrix`, :func:`hamming_matrix` — how alike patterns are.

Every experiment takes a **model**: a kind name registered in :data:`MODELS`
(``"hebbian"``, …) or any callable ``n -> model``. A model is anything with
``n``, ``store(patterns)``, ``retrieve(queries, *, update, max_sweeps, seed,
threads)`` returning a :class:`hopfield.Retrieval`, and ``overlaps(states)``;
every binary model of the package qualifies. The inner loops are whole
batches handed to the model's Rust ``retrieve``; Python only draws patterns
and counts. Results are frozen dataclasses of NumPy arrays; every experiment
is deterministic given ``seed``, and ``progress=True`` shows a tqdm bar.

``capacity_curve``, ``noise_robustness``, ``basin_size`` and
``spurious_census`` take ``executor=``: any :class:`concurrent.futures.Executor`
(a process pool, a Dask client's ``get_executor()``) that runs their trials,
levels or chunks of starts as tasks. Every task draws from its own seeds, so
the result is identical to the serial run's for the same ``seed``. The model
(a kind name, a picklable factory or, for the census, a model) travels with
each task.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate
from .._core import overlap_matrix
from ..dense import DenseAssociativeMemory
from ..network import HopfieldNetwork
from ..spins import as_spins, corrupt, random_patterns
from . import progress as _progress  # the experiments take a progress= argument

__all__ = [
    "MODELS",
    "BasinResult",
    "CapacityResult",
    "RobustnessResult",
    "SpuriousCensus",
    "Trajectories",
    "basin_size",
    "capacity_curve",
    "classify_state",
    "hamming_matrix",
    "make_model",
    "noise_robustness",
    "register_model",
    "similarity_matrix",
    "spurious_census",
    "trajectories",
]

#: Model kinds by name: each value builds a fresh, empty model of ``n``
#: neurons. Adding a kind is one line (or one :func:`register_model` call).
MODELS: dict[str, Callable[[int], Any]] = {
    "hebbian": lambda n: HopfieldNetwork(n),
    "storkey": lambda n: HopfieldNetwork(n, rule="storkey"),
    "pseudoinverse": lambda n: HopfieldNetwork(n, rule="pseudoinverse"),
    "dense-poly3": lambda n: DenseAssociativeMemory(n, interaction="polynomial", degree=3),
    "dense-exp": lambda n: DenseAssociativeMemory(n, interaction="exponential", beta=1.0),
}

#: The spurious-state categories of :class:`SpuriousCensus`, in report order.
CATEGORIES = ("stored", "reversed", "near-stored", "mixture", "other")


def register_model(name: str, factory: Callable[[int], Any]) -> None:
    """Register a model kind so that experiments accept it by ``name``.

    Parameters
    ----------
    name : str
        The kind name, e.g. ``"storkey"``.
    factory : callable
        ``factory(n)`` returns a fresh, empty model of ``n`` neurons.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise TypeError(f"factory must be callable as factory(n), got {type(factory).__name__}")
    MODELS[name] = factory


def make_model(model: str | Callable[[int], Any], n: int) -> Any:
    """Build a fresh model of ``n`` neurons from a kind name or a factory.

    Raises
    ------
    ValueError
        If ``model`` is a name that is not registered, or the factory's model
        does not have ``n`` neurons.
    TypeError
        If ``model`` is neither a string nor callable, or what the factory
        returns lacks ``store``, ``retrieve`` or ``overlaps``.
    """
    if isinstance(model, str):
        if model not in MODELS:
            known = ", ".join(repr(k) for k in sorted(MODELS))
            raise ValueError(
                f"model must be one of {known} or a callable n -> model; got {model!r}"
            )
        built = MODELS[model](n)
    elif callable(model):
        built = model(n)
    else:
        raise TypeError(
            f"model must be a kind name (str) or a callable n -> model, got {type(model).__name__}"
        )
    missing = [a for a in ("store", "retrieve", "overlaps", "n") if not hasattr(built, a)]
    if missing:
        raise TypeError(f"model {_name(model)} built an object without {', '.join(missing)}")
    if built.n != n:
        raise ValueError(f"model {_name(model)} built a model of {built.n} neurons, expected {n}")
    return built


def _name(model: Any) -> str:
    if isinstance(model, str):
        return model
    return getattr(model, "__name__", None) or type(model).__name__


def _seeds(seed: int | None, count: int) -> list[int]:
    """``count`` independent 63-bit seeds derived from ``seed`` (fresh if None)."""
    ss = np.random.SeedSequence(None if seed is None else _validate.seed(seed))
    return [int(s) >> 1 for s in ss.generate_state(count, np.uint64)]


def _check_executor(executor: Any) -> Executor | None:
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(
            "executor must be a concurrent.futures.Executor (e.g. a Dask client's "
            f"get_executor()) or None, got {type(executor).__name__}"
        )
    return executor


def _tasks(
    executor: Executor | None, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]]
) -> Iterator[Any]:
    """``fn(*task)`` for every task, in order: here one after the other, or all
    submitted to ``executor`` at once and their results taken in order."""
    if executor is None:
        for task in tasks:
            yield fn(*task)
        return
    futures = [executor.submit(fn, *task) for task in tasks]
    try:
        for future in futures:
            yield future.result()
    finally:
        for future in futures:
            future.cancel()


def _own_overlap(states: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """Row-wise overlap ``ξ^k·s^k / N`` of each final state with its own pattern."""
    n = patterns.shape[1]
    return np.einsum("bn,bn->b", states, patterns, dtype=np.int64) / n


def _fraction(value: Any, name: str, *, upper: float = 1.0) -> float:
    if not _validate.is_real(value):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not 0.0 <= v <= upper:
        raise ValueError(f"{name} must be in [0, {upper}], got {v}")
    return v


def _fractions(values: ArrayLike, name: str, *, upper: float = 1.0) -> np.ndarray:
    a = np.array(values, dtype=np.float64, ndmin=1)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of numbers, got shape {a.shape}")
    if np.any(~((a >= 0.0) & (a <= upper))):
        bad = a[~((a >= 0.0) & (a <= upper))][0]
        raise ValueError(f"{name} must lie in [0, {upper}]; found {bad}")
    return a


def _patterns(patterns: ArrayLike, name: str = "patterns") -> np.ndarray:
    pats = as_spins(patterns, name=name)
    if pats.ndim != 2 or pats.shape[0] == 0 or pats.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (P, N), got shape {pats.shape}")
    return pats


# ---------------------------------------------------------------------------
# capacity


@dataclass(frozen=True, eq=False)
class CapacityResult:
    """What :func:`capacity_curve` measured, one entry per load.

    Attributes
    ----------
    loads : numpy.ndarray
        The loads ``α = P/N`` actually stored (``P`` is rounded), float64.
    num_patterns : numpy.ndarray
        ``P`` per load, int64.
    mean_overlap : numpy.ndarray
        Mean over patterns and trials of the final overlap ``ξ·s/N`` with
        the pattern the query came from.
    exact_fraction : numpy.ndarray
        Fraction of queries that ended exactly on their pattern.
    fixed_fraction : numpy.ndarray
        Fraction of stored patterns that are fixed points of the dynamics.
    n, noise, trials, model :
        The experiment's settings.
    """

    loads: np.ndarray
    num_patterns: np.ndarray
    mean_overlap: np.ndarray
    exact_fraction: np.ndarray
    fixed_fraction: np.ndarray
    n: int
    noise: float
    trials: int
    model: str

    def as_dict(self) -> dict[str, Any]:
        """Plain Python values (lists for arrays), ready for ``json.dump``."""
        return _as_dict(self)


def _capacity_trial(
    model: str | Callable[[int], Any],
    n: int,
    p: int,
    noise: float,
    s: list[int],
    update: str,
    max_sweeps: int,
    threads: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """One trial of one load: the final own overlaps and which patterns are fixed points."""
    patterns = random_patterns(p, n, seed=s[0])
    net = make_model(model, n)
    net.store(patterns)
    one = net.retrieve(patterns, update=update, max_sweeps=1, seed=s[1], threads=threads)
    fixed = np.all(one.states == patterns, axis=1)
    queries = corrupt(patterns, flip=noise, seed=s[2]) if noise > 0 else patterns
    res = net.retrieve(queries, update=update, max_sweeps=max_sweeps, seed=s[3], threads=threads)
    return _own_overlap(res.states, patterns), fixed


def capacity_curve(
    model: str | Callable[[int], Any],
    n: int,
    loads: ArrayLike,
    *,
    noise: float = 0.0,
    trials: int = 1,
    seed: int | None = None,
    update: str = "async",
    max_sweeps: int = 100,
    threads: int | None = None,
    progress: bool = False,
    executor: Executor | None = None,
) -> CapacityResult:
    """Retrieval quality against the load ``α = P/N``.

    For each load and trial: draw ``P = max(1, round(α·N))`` random
    patterns, store them in a fresh model, check which are fixed points (one
    sweep from each), corrupt a copy of each (``noise`` = fraction of flipped
    spins; none when ``0``) and retrieve all of them in one batch.

    Parameters
    ----------
    model : str or callable
        A kind name from :data:`MODELS` or a callable ``n -> model``.
    n : int
        Number of neurons.
    loads : array_like
        Loads ``α > 0``, e.g. ``np.linspace(0.05, 0.25, 21)``.
    noise : float
        Fraction of spins flipped in each query, ``0 <= noise <= 1``.
    trials : int
        Independent pattern sets per load; results are averaged.
    seed : int or None
        Makes the whole curve reproducible.
    update, max_sweeps, threads :
        Passed to the model's ``retrieve``.
    progress : bool
        Show a progress bar (needs tqdm).
    executor : concurrent.futures.Executor or None
        Runs the (load, trial) pairs as tasks (``model`` must then be a kind
        name or a picklable factory); the result is the serial one.

    Returns
    -------
    CapacityResult

    Examples
    --------
    >>> from hopfield.experiments import capacity_curve
    >>> r = capacity_curve("hebbian", 200, [0.05, 0.3], seed=0)
    >>> bool(r.mean_overlap[0] > r.mean_overlap[1])
    True
    """
    n = _validate.positive_int(n, "n")
    trials = _validate.positive_int(trials, "trials")
    noise = _fraction(noise, "noise")
    alphas = np.array(loads, dtype=np.float64, ndmin=1)
    if alphas.ndim != 1 or alphas.size == 0 or not np.all((alphas > 0) & np.isfinite(alphas)):
        raise ValueError(f"loads must be a non-empty 1-D sequence of finite values > 0: {loads!r}")
    counts = np.maximum(1, np.rint(alphas * n)).astype(np.int64)
    seeds = _seeds(seed, 4 * len(counts) * trials)
    executor = _check_executor(executor)
    if executor is not None and isinstance(model, str):
        make_model(model, n)  # an unknown kind name fails here, not in a task
    tasks = [
        (model, n, int(p), noise, seeds[4 * k : 4 * k + 4], update, max_sweeps, threads)
        for k, p in enumerate(np.repeat(counts, trials))
    ]
    mean, exact, fixed = (np.zeros(len(counts)) for _ in range(3))
    own: list[np.ndarray] = []
    fix: list[np.ndarray] = []
    with _progress.bar(len(counts) * trials, "capacity", progress) as pbar:
        for o, f in _tasks(executor, _capacity_trial, tasks):
            own.append(o)
            fix.append(f)
            pbar.update(1)
    for i in range(len(counts)):
        m = np.concatenate(own[i * trials : (i + 1) * trials])
        mean[i], exact[i] = m.mean(), np.mean(m == 1.0)
        fixed[i] = np.concatenate(fix[i * trials : (i + 1) * trials]).mean()
    return CapacityResult(
        loads=counts / n,
        num_patterns=counts,
        mean_overlap=mean,
        exact_fraction=exact,
        fixed_fraction=fixed,
        n=n,
        noise=noise,
        trials=trials,
        model=_name(model),
    )


# ---------------------------------------------------------------------------
# noise robustness


@dataclass(frozen=True, eq=False)
class RobustnessResult:
    """What :func:`noise_robustness` measured, one entry per noise level.

    Attributes
    ----------
    noise_levels : numpy.ndarray
        Fractions of flipped spins in the queries.
    mean_overlap : numpy.ndarray
        Mean final overlap with the pattern each query came from.
    exact_fraction : numpy.ndarray
        Fraction of queries that ended exactly on their pattern.
    recalled_fraction : numpy.ndarray
        Fraction that ended with overlap at least ``min_overlap``.
    min_overlap, trials, model :
        The experiment's settings.
    """

    noise_levels: np.ndarray
    mean_overlap: np.ndarray
    exact_fraction: np.ndarray
    recalled_fraction: np.ndarray
    min_overlap: float
    trials: int
    model: str

    def as_dict(self) -> dict[str, Any]:
        """Plain Python values (lists for arrays), ready for ``json.dump``."""
        return _as_dict(self)


def _recall_level(
    net: Any,
    targets: np.ndarray,
    level: float,
    s: list[int],
    update: str,
    max_sweeps: int,
    threads: int | None,
) -> np.ndarray:
    """The final own overlaps of copies of ``targets`` with ``level`` of their spins flipped."""
    queries = corrupt(targets, flip=level, seed=s[0])
    res = net.retrieve(queries, update=update, max_sweeps=max_sweeps, seed=s[1], threads=threads)
    return _own_overlap(res.states, targets)


def noise_robustness(
    model: str | Callable[[int], Any],
    patterns: ArrayLike,
    noise_levels: ArrayLike,
    *,
    trials: int = 10,
    seed: int | None = None,
    min_overlap: float = 0.9,
    update: str = "async",
    max_sweeps: int = 100,
    threads: int | None = None,
    progress: bool = False,
    executor: Executor | None = None,
) -> RobustnessResult:
    """Retrieval quality against the fraction of corrupted spins.

    The patterns are stored once in a fresh model; for every noise level,
    ``trials`` corrupted copies of every pattern are retrieved in one batch.

    Parameters
    ----------
    model : str or callable
        A kind name from :data:`MODELS` or a callable ``n -> model``.
    patterns : array_like
        The patterns ``(P, N)`` to store and recall.
    noise_levels : array_like
        Fractions of flipped spins, each in ``[0, 1]``.
    trials : int
        Corrupted copies of each pattern per level.
    seed : int or None
        Makes the result reproducible.
    min_overlap : float
        A query counts as recalled when its final overlap is at least this.
    update, max_sweeps, threads :
        Passed to the model's ``retrieve``.
    progress : bool
        Show a progress bar (needs tqdm).
    executor : concurrent.futures.Executor or None
        Runs the levels as tasks (each ships the model and the patterns);
        the result is the serial one.

    Returns
    -------
    RobustnessResult
    """
    pats = _patterns(patterns)
    levels = _fractions(noise_levels, "noise_levels")
    trials = _validate.positive_int(trials, "trials")
    if not _validate.is_real(min_overlap) or not -1.0 <= float(min_overlap) <= 1.0:
        raise ValueError(f"min_overlap must be a number in [-1, 1], got {min_overlap!r}")
    net = make_model(model, pats.shape[1])
    net.store(pats)
    targets = np.repeat(pats, trials, axis=0)
    seeds = _seeds(seed, 2 * len(levels))
    mean, exact, recalled = (np.zeros(len(levels)) for _ in range(3))
    tasks = [
        (net, targets, float(level), seeds[2 * i : 2 * i + 2], update, max_sweeps, threads)
        for i, level in enumerate(levels)
    ]
    with _progress.bar(len(levels), "robustness", progress) as pbar:
        for i, m in enumerate(_tasks(_check_executor(executor), _recall_level, tasks)):
            mean[i], exact[i] = m.mean(), np.mean(m == 1.0)
            recalled[i] = np.mean(m >= min_overlap)
            pbar.update(1)
    return RobustnessResult(
        noise_levels=levels,
        mean_overlap=mean,
        exact_fraction=exact,
        recalled_fraction=recalled,
        min_overlap=float(min_overlap),
        trials=trials,
        model=_name(model),
    )


# ---------------------------------------------------------------------------
# basins


@dataclass(frozen=True, eq=False)
class BasinResult:
    """What :func:`basin_size` measured.

    Attributes
    ----------
    flip_levels : numpy.ndarray
        The corruption levels tried (fractions of flipped spins), ``(L,)``.
    success_rate : numpy.ndarray
        ``(P, L)``: per pattern and level, the fraction of trials recalled.
    basin : numpy.ndarray
        ``(P,)``: the largest level ``f`` such that every level up to ``f``
        was recalled with probability at least ``success``; NaN for a pattern
        that is not even recalled from itself (not a fixed point).
    success, trials, model :
        The experiment's settings.
    """

    flip_levels: np.ndarray
    success_rate: np.ndarray
    basin: np.ndarray
    success: float
    trials: int
    model: str

    def as_dict(self) -> dict[str, Any]:
        """Plain Python values (lists for arrays), ready for ``json.dump``."""
        return _as_dict(self)


def basin_size(
    model: str | Callable[[int], Any],
    patterns: ArrayLike,
    *,
    success: float = 0.9,
    trials: int = 20,
    flip_levels: ArrayLike | None = None,
    min_overlap: float = 1.0,
    seed: int | None = None,
    update: str = "async",
    max_sweeps: int = 100,
    threads: int | None = None,
    progress: bool = False,
    executor: Executor | None = None,
) -> BasinResult:
    """Per pattern, the largest corruption from which it is still recalled.

    The patterns are stored in a fresh model. For each flip level, ``trials``
    corrupted copies of every pattern are retrieved in one batch; a copy is
    recalled when its final overlap with the pattern is at least
    ``min_overlap`` (``1.0``: exactly).

    Parameters
    ----------
    model : str or callable
        A kind name from :data:`MODELS` or a callable ``n -> model``.
    patterns : array_like
        Patterns ``(P, N)``.
    success : float
        Probability of recall that a level must reach, in ``(0, 1]``.
    trials : int
        Corrupted copies per pattern and level.
    flip_levels : array_like or None
        Increasing levels in ``[0, 0.5]``; default ``0, 0.02, …, 0.5``.
    min_overlap : float
        Final overlap that counts as recalled.
    seed : int or None
        Makes the result reproducible.
    update, max_sweeps, threads :
        Passed to the model's ``retrieve``.
    progress : bool
        Show a progress bar (needs tqdm).
    executor : concurrent.futures.Executor or None
        Runs the levels as tasks (each ships the model and the patterns);
        the result is the serial one.

    Returns
    -------
    BasinResult
    """
    pats = _patterns(patterns)
    success = _fraction(success, "success")
    if success == 0.0:
        raise ValueError("success must be in (0, 1], got 0.0")
    trials = _validate.positive_int(trials, "trials")
    levels = (
        np.linspace(0.0, 0.5, 26)
        if flip_levels is None
        else _fractions(flip_levels, "flip_levels", upper=0.5)
    )
    if np.any(np.diff(levels) <= 0):
        raise ValueError("flip_levels must be strictly increasing")
    net = make_model(model, pats.shape[1])
    net.store(pats)
    p = pats.shape[0]
    targets = np.repeat(pats, trials, axis=0)
    seeds = _seeds(seed, 2 * len(levels))
    rate = np.zeros((p, len(levels)))
    tasks = [
        (net, targets, float(level), seeds[2 * j : 2 * j + 2], update, max_sweeps, threads)
        for j, level in enumerate(levels)
    ]
    with _progress.bar(len(levels), "basins", progress) as pbar:
        for j, m in enumerate(_tasks(_check_executor(executor), _recall_level, tasks)):
            ok = m >= min_overlap
            rate[:, j] = ok.reshape(p, trials).mean(axis=1)
            pbar.update(1)
    good = rate >= success
    # Number of leading levels that all pass: the first failing level per row.
    run = np.where(good.all(axis=1), len(levels), np.argmin(good, axis=1))
    basin = np.where(run > 0, levels[np.maximum(run - 1, 0)], np.nan)
    return BasinResult(
        flip_levels=levels,
        success_rate=rate,
        basin=basin,
        success=success,
        trials=trials,
        model=_name(model),
    )


# ---------------------------------------------------------------------------
# spurious attractors


@dataclass(frozen=True, eq=False)
class SpuriousCensus:
    """The distinct fixed points reached from random starts, classified.

    Attributes
    ----------
    states : numpy.ndarray
        ``(K, N)`` int8: the distinct fixed points, most visited first.
    visits : numpy.ndarray
        ``(K,)``: how many starts ended on each.
    category : numpy.ndarray
        ``(K,)`` str, one of ``"stored"`` (a stored pattern), ``"reversed"``
        (a negated one), ``"near-stored"`` (within ``near`` overlap of a
        stored or negated pattern, but not equal: the retrieval states of
        the theory at high load), ``"mixture"`` (``sign(Σ_μ ε_μ ξ^μ)`` over
        an odd number ≥ 3 of patterns) and ``"other"`` (spin-glass states).
    components : list
        Per state: for a mixture, ``((μ, ε_μ), …)`` its patterns with their
        signs; for a (near-)stored or reversed state, ``((μ, ±1),)``; else ``()``.
    max_overlap : numpy.ndarray
        ``(K,)``: the largest ``|ξ^μ·s|/N`` over the stored patterns.
    counts : dict
        Number of distinct states per category.
    n_starts, converged :
        Starts run, and how many of them converged (only converged runs are
        fixed points and counted).
    """

    states: np.ndarray
    visits: np.ndarray
    category: np.ndarray
    components: list[tuple[tuple[int, int], ...]]
    max_overlap: np.ndarray
    counts: dict[str, int]
    n_starts: int
    converged: int
    num_patterns: int = field(default=0)

    def examples(self, category: str, k: int = 3) -> np.ndarray:
        """Up to ``k`` states of ``category`` (most visited first), ``(k', N)``."""
        if category not in CATEGORIES:
            raise ValueError(f"category must be one of {CATEGORIES}, got {category!r}")
        return self.states[self.category == category][:k]

    def as_dict(self) -> dict[str, Any]:
        """Counts, visits and components as plain Python values (no states)."""
        return {
            "n_starts": self.n_starts,
            "converged": self.converged,
            "num_patterns": self.num_patterns,
            "distinct": len(self.visits),
            "counts": dict(self.counts),
            "visits_by_category": {
                c: int(self.visits[self.category == c].sum()) for c in CATEGORIES
            },
            "category": [str(c) for c in self.category],
            "visits": [int(v) for v in self.visits],
            "components": [[list(c) for c in comp] for comp in self.components],
        }


def _classify(
    state: np.ndarray, m: np.ndarray, pats: np.ndarray, near: float, max_order: int
) -> tuple[str, tuple[tuple[int, int], ...]]:
    top = int(np.argmax(np.abs(m)))
    sign = 1 if m[top] > 0 else -1
    if m[top] == 1.0:
        return "stored", ((top, 1),)
    if m[top] == -1.0:
        return "reversed", ((top, -1),)
    order = np.argsort(-np.abs(m), kind="stable")
    acc = np.zeros(pats.shape[1], dtype=np.int64)
    for k in range(1, min(max_order, len(m)) + 1):
        mu = int(order[k - 1])
        acc += (1 if m[mu] >= 0 else -1) * pats[mu].astype(np.int64)
        if k >= 3 and k % 2 == 1 and np.array_equal(np.where(acc > 0, 1, -1), state):
            comps = tuple((int(u), 1 if m[u] >= 0 else -1) for u in order[:k])
            return "mixture", comps
    if abs(m[top]) >= near:
        return "near-stored", ((top, sign),)
    return "other", ()


def classify_state(
    state: ArrayLike, patterns: ArrayLike, *, near: float = 0.9, max_order: int = 7
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Name a state the way :func:`spurious_census` names its fixed points.

    Parameters
    ----------
    state : array_like
        One state ``(N,)`` of spins.
    patterns : array_like
        The stored patterns ``(P, N)``.
    near, max_order :
        As for :func:`spurious_census`.

    Returns
    -------
    category : str
        ``"stored"``, ``"reversed"``, ``"mixture"`` (``sign(Σ ε_μ ξ^μ)`` of an
        odd number >= 3 of patterns), ``"near-stored"`` (largest ``|m|`` at
        least ``near``) or ``"other"``.
    components : tuple of (int, int)
        The patterns and signs ``(μ, ε_μ)`` it is made of (empty for ``"other"``).
    """
    pats = _patterns(patterns)
    s = as_spins(state, name="state")
    if s.shape != (pats.shape[1],):
        raise ValueError(f"state must have shape ({pats.shape[1]},), got {s.shape}")
    near = _fraction(near, "near")
    max_order = _validate.positive_int(max_order, "max_order")
    m = overlap_matrix(np.ascontiguousarray(s.reshape(1, -1)), pats)[0]
    return _classify(s, m, pats, near, max_order)


def _descend_starts(
    net: Any, starts: np.ndarray, seed: int, update: str, max_sweeps: int, threads: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """The final states of runs from ``starts`` and whether each converged."""
    res = net.retrieve(starts, update=update, max_sweeps=max_sweeps, seed=seed, threads=threads)
    return res.states, np.asarray(res.converged)


def spurious_census(
    model: Any,
    n_starts: int,
    *,
    patterns: ArrayLike | None = None,
    near: float = 0.9,
    max_order: int = 7,
    seed: int | None = None,
    update: str = "async",
    max_sweeps: int = 200,
    threads: int | None = None,
    progress: bool = False,
    executor: Executor | None = None,
) -> SpuriousCensus:
    """Run from random states and classify the fixed points they reach.

    Parameters
    ----------
    model : model, str or callable
        A model that already holds its patterns (then ``patterns`` defaults
        to its ``patterns`` attribute), or a kind name / factory, in which
        case ``patterns`` are stored into a fresh model.
    n_starts : int
        Number of uniformly random starting states.
    patterns : array_like or None
        The stored patterns ``(P, N)``.
    near : float
        Overlap above which a non-exact state counts as ``"near-stored"``.
    max_order : int
        Largest mixture order tried (odd orders 3, 5, … up to this).
    seed : int or None
        Makes the census reproducible.
    update, max_sweeps, threads :
        Passed to the model's ``retrieve``.
    progress : bool
        Show a progress bar (needs tqdm).
    executor : concurrent.futures.Executor or None
        Runs the chunks of 4096 starts as tasks (each ships the model); the
        result is the serial one.

    Returns
    -------
    SpuriousCensus
    """
    n_starts = _validate.positive_int(n_starts, "n_starts")
    max_order = _validate.positive_int(max_order, "max_order")
    near = _fraction(near, "near")
    if isinstance(model, (str, type)) or not hasattr(model, "retrieve"):
        if patterns is None:
            raise ValueError("patterns are needed when model is a kind name or a factory")
        pats = _patterns(patterns)
        net = make_model(model, pats.shape[1])
        net.store(pats)
    else:
        net = model
        if patterns is None:
            if not hasattr(net, "patterns"):
                raise ValueError("pass patterns=: the model has no patterns attribute")
            patterns = net.patterns
        pats = _patterns(patterns)
    n = pats.shape[1]
    if net.n != n:
        raise ValueError(f"patterns have {n} columns but the model has n = {net.n} neurons")
    s = _seeds(seed, 2)
    starts = random_patterns(n_starts, n, seed=s[0])
    chunk = 4096
    finals, conv = [], []
    rng_seeds = _seeds(s[1], -(-n_starts // chunk))
    tasks = [
        (net, starts[lo : lo + chunk], rng_seeds[c], update, max_sweeps, threads)
        for c, lo in enumerate(range(0, n_starts, chunk))
    ]
    with _progress.bar(n_starts, "census", progress) as pbar:
        for states, converged in _tasks(_check_executor(executor), _descend_starts, tasks):
            finals.append(states)
            conv.append(converged)
            pbar.update(len(states))
    states = np.concatenate(finals)[np.concatenate(conv)]
    if len(states):
        uniq, visits = np.unique(states, axis=0, return_counts=True)
        order = np.argsort(-visits, kind="stable")
        uniq, visits = uniq[order], visits[order]
        m = overlap_matrix(np.ascontiguousarray(uniq), pats)
    else:
        uniq = np.empty((0, n), dtype=np.int8)
        visits = np.empty(0, dtype=np.int64)
        m = np.empty((0, pats.shape[0]))
    cats, comps = [], []
    for row, mrow in zip(uniq, m, strict=True):
        cat, comp = _classify(row, mrow, pats, near, max_order)
        cats.append(cat)
        comps.append(comp)
    category = np.array(cats, dtype="<U11")
    return SpuriousCensus(
        states=uniq,
        visits=visits.astype(np.int64),
        category=category,
        components=comps,
        max_overlap=np.abs(m).max(axis=1) if len(m) else np.empty(0),
        counts={c: int(np.sum(category == c)) for c in CATEGORIES},
        n_starts=n_starts,
        converged=len(states),
        num_patterns=pats.shape[0],
    )


# ---------------------------------------------------------------------------
# trajectories


@dataclass(frozen=True, eq=False)
class Trajectories:
    """States and energies of retrievals, sweep by sweep.

    Attributes
    ----------
    states : numpy.ndarray
        int8 ``(B, T + 1, N)``: the queries, then the state after each sweep
        (a converged query keeps its final state).
    energy : numpy.ndarray
        float64 ``(B, T + 1)``: the energy of each of those states.
    """

    states: np.ndarray
    energy: np.ndarray


def trajectories(
    model: Any,
    queries: ArrayLike,
    *,
    sweeps: int = 10,
    update: str = "async",
    seed: int | None = None,
    threads: int | None = None,
) -> Trajectories:
    """Record the states of a retrieval after every sweep.

    Runs ``sweeps`` single-sweep retrievals in a row, each a batched call of
    the model's ``retrieve`` with ``max_sweeps=1`` (its own seed per sweep),
    and the model's ``energy`` of every state.

    Parameters
    ----------
    model : model
        A model holding its patterns, with ``retrieve`` and ``energy``.
    queries : array_like
        Starting states ``(B, N)`` or ``(N,)``.
    sweeps : int
        Number of sweeps to record.
    update, seed, threads :
        Passed to ``retrieve``.

    Returns
    -------
    Trajectories
    """
    sweeps = _validate.positive_int(sweeps, "sweeps")
    q = as_spins(queries, name="queries")
    if q.ndim == 1:
        q = q.reshape(1, -1)
    if q.ndim != 2 or q.shape[0] == 0 or q.shape[1] != model.n:
        raise ValueError(f"queries must have shape (B, {model.n}), got {q.shape}")
    seeds = _seeds(seed, sweeps)
    states = [q]
    for t in range(sweeps):
        res = model.retrieve(
            states[-1], update=update, max_sweeps=1, seed=seeds[t], threads=threads
        )
        states.append(res.states)
    path = np.stack(states, axis=1)
    energy = np.asarray(model.energy(path.reshape(-1, q.shape[1])), dtype=np.float64)
    return Trajectories(states=path, energy=energy.reshape(path.shape[:2]))


# ---------------------------------------------------------------------------
# pattern geometry


def similarity_matrix(patterns: ArrayLike) -> np.ndarray:
    """Normalised overlaps ``ξ^μ·ξ^ν / N`` between all pairs of patterns.

    Parameters
    ----------
    patterns : array_like
        Spins ``(P, N)``.

    Returns
    -------
    numpy.ndarray
        float64 ``(P, P)``, symmetric, ones on the diagonal, computed with the
        bit-packed XOR + popcount kernel.
    """
    pats = _patterns(patterns)
    return overlap_matrix(pats, pats)


def hamming_matrix(patterns: ArrayLike) -> np.ndarray:
    """Hamming distances (number of differing spins) between all pairs.

    Returns
    -------
    numpy.ndarray
        int64 ``(P, P)``, symmetric, zero diagonal; ``(N - ξ^μ·ξ^ν) / 2``.
    """
    pats = _patterns(patterns)
    n = pats.shape[1]
    dot = np.rint(overlap_matrix(pats, pats) * n).astype(np.int64)
    return (n - dot) // 2


def _json_value(value: Any) -> Any:
    """Lists for arrays, ``None`` for NaN (JSON has no NaN)."""
    if isinstance(value, np.ndarray):
        return _json_value(value.tolist())
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _as_dict(result: Any) -> dict[str, Any]:
    return {key: _json_value(value) for key, value in vars(result).items()}
