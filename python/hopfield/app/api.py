"""What the app's JSON endpoints compute: a checked request in, the library's answer out.

Each public function takes the decoded JSON object of one request, reads it
through :mod:`hopfield.app.payload` (which refuses bad input with
:class:`~hopfield.app.payload.BadRequest`) and returns a JSON-ready ``dict``.
All the work is done by the library: the models, :func:`hopfield.corrupt`,
:func:`hopfield.sweep_orders`, the energies and overlaps. The server is
stateless: a request carries its patterns and state, and the models built
from them are kept in a small cache so that an animation does not rebuild
its network at every frame.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from ..dense import DenseAssociativeMemory
from ..lab.experiments import classify_state
from ..modern import ModernHopfield
from ..network import HopfieldNetwork, sweep_orders
from ..reference.glauber import all_states
from ..spins import corrupt, random_patterns
from . import payload as pl
from .glyphs import SETS, memory_set

__all__ = [
    "KINDS",
    "ModelCache",
    "beta_panel",
    "corrupt_state",
    "info",
    "landscape",
    "memories",
    "trajectory",
    "update",
]

#: Model kinds of the "Draw and retrieve" panel.
KINDS = ("hebbian", "storkey", "pseudoinverse", "dense", "exponential", "modern")
#: Actions of an update request.
ACTIONS = ("sync", "sweep", "converge")
#: Grids the page offers (any shape up to 32 × 32 is accepted).
GRIDS = ((9, 7), (16, 16), (32, 32))
#: Cells per side of the landscape's energy map.
LANDSCAPE_BINS = 48
#: Seeds are JSON integers the page can hold exactly (below 2^53).
MAX_SEED = 2**53 - 1


class ModelCache:
    """The last few models built, keyed by kind, parameters and a digest of the patterns.

    Models are safe to share between threads for retrieval, so one entry
    serves every tab that sends the same patterns.
    """

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._models: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], patterns: np.ndarray, build: Callable[[], Any]) -> Any:
        """The model for ``key`` and ``patterns``, built with ``build()`` when missing."""
        digest = hashlib.sha256(patterns.tobytes()).hexdigest()
        full = (*key, patterns.shape, patterns.dtype.str, digest)
        with self._lock:
            if full in self._models:
                self._models.move_to_end(full)
                return self._models[full]
        model = build()  # outside the lock: another tab's request need not wait
        with self._lock:
            self._models[full] = model
            while len(self._models) > self._size:
                self._models.popitem(last=False)
        return model


_CACHE = ModelCache()


def info() -> dict[str, Any]:
    """The page's choices and the server's caps."""
    return {
        "sets": [*SETS, "random"],
        "grids": [list(g) for g in GRIDS],
        "kinds": list(KINDS),
        "limits": {
            "max_side": pl.MAX_SIDE,
            "max_patterns": pl.MAX_PATTERNS,
            "max_sweeps": pl.MAX_SWEEPS,
            "max_landscape_n": pl.MAX_LANDSCAPE_N,
            "max_temperature": pl.MAX_TEMPERATURE,
            "beta": list(pl.BETA_RANGE),
            "max_body_bytes": pl.MAX_BODY_BYTES,
        },
    }


def _seed(data: dict[str, Any], key: str = "seed") -> int:
    return pl.integer(data, key, 0, MAX_SEED, 0)


def memories(data: dict[str, Any]) -> dict[str, Any]:
    """A named memory set (letters, digits, random) on the requested grid."""
    shape = pl.shape(data)
    name = pl.choice(data, "set", (*SETS, "random"))
    count = pl.integer(data, "count", 1, pl.MAX_PATTERNS, 4) if name == "random" else 0
    patterns, labels = memory_set(name, shape, count=count, seed=_seed(data))
    return {"shape": list(shape), "patterns": patterns.tolist(), "labels": labels}


def corrupt_state(data: dict[str, Any]) -> dict[str, Any]:
    """The state with ``percent`` % of its cells flipped (:func:`hopfield.corrupt`)."""
    h, w = pl.shape(data)
    state = pl.spins(data, "state", h * w)
    percent = pl.number(data, "percent", 0.0, 100.0)
    return {"state": corrupt(state, flip=percent / 100.0, seed=_seed(data)).tolist()}


# ---------------------------------------------------------------------------
# the models


def _model_spec(data: dict[str, Any]) -> tuple[str, int, float]:
    spec = pl.obj(data, "model")
    kind = pl.choice(spec, "kind", KINDS)
    degree = pl.integer(spec, "degree", 2, 8, 3) if kind == "dense" else 0
    beta = (
        pl.number(spec, "beta", *pl.BETA_RANGE, 1.0) if kind in ("exponential", "modern") else 0.0
    )
    return kind, degree, beta


def _build(kind: str, degree: int, beta: float, patterns: np.ndarray) -> Any:
    n = patterns.shape[1]

    def build() -> Any:
        if kind == "modern":
            model: Any = ModernHopfield(beta)
            model.store(patterns.astype(np.float32))
        elif kind == "dense":
            model = DenseAssociativeMemory(n, degree=degree)
            model.store(patterns)
        elif kind == "exponential":
            model = DenseAssociativeMemory(n, interaction="exponential", beta=beta)
            model.store(patterns)
        else:
            model = HopfieldNetwork(n, rule=kind)
            model.store(patterns)
        return model

    return _CACHE.get((kind, degree, beta), patterns, build)


def _overlaps(model: Any, patterns: np.ndarray, state: np.ndarray) -> np.ndarray:
    if isinstance(model, ModernHopfield):
        return patterns.astype(np.float64) @ state / patterns.shape[1]
    return np.asarray(model.overlaps(state), dtype=np.float64)


def _reached(
    state: np.ndarray, patterns: np.ndarray, labels: list[str], m: np.ndarray, fixed: bool
) -> dict[str, Any]:
    """Which memory the state is: stored, reversed, a mixture, near one, or other."""
    binary = np.where(state > 0, 1, -1).astype(np.int8) if state.dtype != np.int8 else state
    category, parts = classify_state(binary, patterns)
    if state.dtype != np.int8 and category == "mixture":
        category, parts = "other", ()  # a continuous state is named by its overlaps only
    top = int(np.argmax(np.abs(m)))
    name = labels[top]
    text = {
        "stored": f"memory {name}",
        "reversed": f"the reverse of {name}",
        "near-stored": f"near {name} (m = {m[top]:+.2f})",
        "mixture": "a spurious mixture of "
        + ", ".join(("" if sign > 0 else "−") + labels[mu] for mu, sign in parts),
        "other": f"a spurious state (closest: {name}, m = {m[top]:+.2f})",
    }[category]
    if not fixed:
        text = f"not settled yet; closest: {name} (m = {m[top]:+.2f})"
    return {
        "category": category,
        "index": top,
        "label": name,
        "overlap": float(m[top]),
        "fixed": bool(fixed),
        "text": text,
    }


def _sweep_plan(
    model: Any, state: np.ndarray, seed: int, temperature: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One asynchronous sweep, neuron by neuron: the order, the final state and
    the energy after each update (``N + 1`` values, the first the start's).

    The library runs the sweep; its order is :func:`hopfield.sweep_orders`'s
    (the same stream). A neuron is updated once per sweep, so the state after
    ``k`` updates is the final state on the first ``k`` neurons of the order
    and the start on the others: the intermediate states are exact.
    """
    n = state.shape[0]
    kwargs = {"temperature": temperature, "sweeps": 1} if temperature > 0 else {}
    res = model.retrieve(state, update="async", max_sweeps=1, seed=seed, **kwargs)
    order = sweep_orders(n, 1, seed=seed)[0, 0]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    done = rank[None, :] < np.arange(n + 1)[:, None]  # (N + 1, N): updated by step k
    steps = np.where(done, res.states[None, :], state[None, :])
    energies = np.asarray(model.energy(steps), dtype=np.float64)
    return order, res.states, energies


def _seeds(seed: int, count: int) -> list[int]:
    return [int(s) for s in np.random.default_rng(seed).integers(0, 2**63, size=count)]


def _is_fixed(model: Any, state: np.ndarray) -> bool:
    if isinstance(model, ModernHopfield):
        nxt = model.retrieve(state).states
        return bool(np.max(np.abs(nxt - state)) <= 1e-6)
    res = model.retrieve(state, update="sync", max_sweeps=1)
    return bool(np.array_equal(res.states, state))


def update(data: dict[str, Any]) -> dict[str, Any]:
    """Update a drawn state with a chosen model and memory set.

    ``action``: ``"sync"``, one synchronous step (the modern network's one
    update); ``"sweep"``, one asynchronous sweep reported neuron by neuron
    (``order`` and ``energies``, for the page's animation); ``"converge"``,
    sweeps (``update`` ``"async"`` or ``"sync"``) until the state stops
    changing, at most ``max_sweeps``, every state in ``frames``; with a
    ``temperature`` > 0, exactly ``max_sweeps`` stochastic (Glauber) sweeps.
    """
    started = time.perf_counter()
    h, w = pl.shape(data)
    n = h * w
    kind, degree, beta = _model_spec(data)
    patterns = pl.rows(data, "patterns", n)
    labels = pl.labels(data, "labels", len(patterns))
    modern = kind == "modern"
    state = pl.reals(data, "state", n) if modern else pl.spins(data, "state", n)
    action = pl.choice(data, "action", ACTIONS)
    temperature = pl.number(data, "temperature", 0.0, pl.MAX_TEMPERATURE, 0.0)
    mode = pl.choice(data, "update", ("async", "sync"), "async")
    max_sweeps = pl.integer(data, "max_sweeps", 1, pl.MAX_SWEEPS, 100)
    seed = _seed(data)
    if modern and (action == "sweep" or temperature > 0):
        raise pl.BadRequest(
            "the modern network updates its whole state at once and has no temperature: "
            "use action 'sync' or 'converge' with temperature 0"
        )
    if temperature > 0 and (action == "sync" or mode == "sync"):
        raise pl.BadRequest("stochastic updates (temperature > 0) are asynchronous")
    model = _build(kind, degree, beta, patterns)

    out: dict[str, Any] = {}
    frames = [state]
    if modern:
        if action == "sync":
            frames.append(model.retrieve(state).states.astype(np.float64))
        else:
            for _ in range(max_sweeps):
                frames.append(model.retrieve(frames[-1]).states.astype(np.float64))
                if np.max(np.abs(frames[-1] - frames[-2])) <= 1e-6:
                    break
    elif action == "sync":
        frames.append(model.retrieve(state, update="sync", max_sweeps=1).states)
    elif action == "sweep":
        order, final, energies = _sweep_plan(model, state, seed, temperature)
        frames.append(final)
        out["order"] = order.tolist()
        out["energies"] = energies.tolist()
    else:
        for s in _seeds(seed, max_sweeps):
            if temperature > 0:
                res = model.retrieve(frames[-1], temperature=temperature, sweeps=1, seed=s)
            else:
                res = model.retrieve(frames[-1], update=mode, max_sweeps=1, seed=s)
            frames.append(res.states)
            if temperature == 0 and (
                np.array_equal(frames[-1], frames[-2])
                or (mode == "sync" and len(frames) > 2 and np.array_equal(frames[-1], frames[-3]))
            ):
                break
    final = frames[-1]
    energies = np.asarray(model.energy(np.stack(frames)), dtype=np.float64)
    m = _overlaps(model, patterns, final)
    fixed = _is_fixed(model, final)
    out.update(
        state=final.tolist(),
        energy=float(energies[-1]),
        frames=[f.tolist() for f in frames[1:]] if action == "converge" else [],
        frame_energies=energies.tolist(),
        sweeps=len(frames) - 1,
        converged=fixed,
        overlaps=m.tolist(),
        reached=_reached(final, patterns, labels, m, fixed),
        compute_ms=(time.perf_counter() - started) * 1e3,
    )
    return out


# ---------------------------------------------------------------------------
# the β panel


def beta_panel(data: dict[str, Any]) -> dict[str, Any]:
    """One modern-network update of ``query`` at ``beta``: the retrieved state,
    the softmax weights over the stored patterns and the energies."""
    patterns = pl.rows(data, "patterns", _row_length(data), real=True)
    n = patterns.shape[1]
    query = pl.reals(data, "query", n)
    beta = pl.number(data, "beta", *pl.BETA_RANGE)
    model = _build("modern", 0, beta, patterns)
    res = model.retrieve(query)
    return {
        "state": res.states.astype(np.float64).tolist(),
        "weights": np.asarray(model.attention(query), dtype=np.float64).tolist(),
        "energy": float(model.energy(res.states)),
        "query_energy": float(model.energy(query)),
    }


def _row_length(data: dict[str, Any]) -> int:
    first = data.get("patterns")
    if isinstance(first, list) and first and isinstance(first[0], list):
        length = len(first[0])
        if 1 <= length <= pl.MAX_SIDE * pl.MAX_SIDE:
            return length
    raise pl.BadRequest(
        f"patterns must be an array of 1 to {pl.MAX_PATTERNS} rows of 1 to "
        f"{pl.MAX_SIDE * pl.MAX_SIDE} numbers each"
    )


# ---------------------------------------------------------------------------
# the energy landscape


def _landscape_model(data: dict[str, Any]) -> tuple[Any, np.ndarray, list[str]]:
    n = pl.integer(data, "n", 4, pl.MAX_LANDSCAPE_N, 12)
    p = pl.integer(data, "p", 2, min(n, 8), 3)
    kind, degree, beta = _model_spec(data)
    if kind == "modern":
        raise pl.BadRequest("the landscape is of binary models: choose another model kind")
    patterns = random_patterns(p, n, seed=_seed(data))
    return _build(kind, degree, beta, patterns), patterns, [f"ξ{k + 1}" for k in range(p)]


def _axes(patterns: np.ndarray) -> np.ndarray:
    """Two principal directions of the patterns and their reverses (``(2, N)``)."""
    _, _, vt = np.linalg.svd(patterns.astype(np.float64), full_matrices=True)
    return vt[:2]


def _energy_map(xy: np.ndarray, energy: np.ndarray, lim: float) -> np.ndarray:
    """The map's colour: each cell takes the lowest energy among the states
    projected on the point nearest to its centre, ``(bins, bins)``, row 0 at
    the bottom (``y = -lim``)."""
    points, which = np.unique(np.round(xy, 9), axis=0, return_inverse=True)
    lowest = np.full(len(points), np.inf)
    np.minimum.at(lowest, which.ravel(), energy)
    centres = (np.arange(LANDSCAPE_BINS) + 0.5) / LANDSCAPE_BINS * 2 * lim - lim
    grid = np.empty((LANDSCAPE_BINS, LANDSCAPE_BINS))
    for r, y in enumerate(centres):  # one row at a time: (bins, points) distances
        d = (centres[:, None] - points[:, 0]) ** 2 + (y - points[:, 1]) ** 2
        grid[r] = lowest[np.argmin(d, axis=1)]
    return grid


def landscape(data: dict[str, Any]) -> dict[str, Any]:
    """Every state of a small network on two principal components, energy as colour.

    The ``2^n`` states are projected on the two leading right singular
    vectors of the patterns (the principal components of the memories and
    their reverses). The map is a ``LANDSCAPE_BINS``² grid whose cells show
    the lowest energy of the states projected nearest to them. The memories
    and every fixed point of the dynamics (named as stored, reversed,
    mixture, near-stored or other) are returned with their positions.
    """
    model, patterns, labels = _landscape_model(data)
    n = patterns.shape[1]
    states = all_states(n)
    axes = _axes(patterns)
    xy = states @ axes.T
    energy = np.asarray(model.energy(states), dtype=np.float64)
    lim = float(np.abs(xy).max()) * 1.08
    nxt = model.retrieve(states, update="sync", max_sweeps=1).states
    minima = []
    for k in np.flatnonzero((nxt == states).all(axis=1))[:256]:
        m = np.asarray(model.overlaps(states[k]), dtype=np.float64)
        reached = _reached(states[k], patterns, labels, m, True)
        minima.append(
            {
                "x": float(xy[k, 0]),
                "y": float(xy[k, 1]),
                "energy": float(energy[k]),
                "category": reached["category"],
                "text": reached["text"],
            }
        )
    return {
        "n": n,
        "extent": [-lim, lim],
        "bins": LANDSCAPE_BINS,
        "grid": _energy_map(xy, energy, lim).tolist(),
        "energy_range": [float(energy.min()), float(energy.max())],
        "memories": [
            {"x": float(x), "y": float(y), "label": lab}
            for (x, y), lab in zip(patterns @ axes.T, labels, strict=True)
        ],
        "minima": minima,
        "states": len(states),
    }


def trajectory(data: dict[str, Any]) -> dict[str, Any]:
    """Start at the state nearest to a clicked point and run downhill.

    The network is the landscape's (``n``, ``p``, ``model``, ``seed``);
    ``x``, ``y`` are coordinates of its map. Among the states that project
    nearest to that point one is drawn with ``start_seed``. The run is
    asynchronous, neuron by neuron (sweep orders from ``run_seed``), until a
    whole sweep flips nothing; every flip is a point of the path.
    """
    model, patterns, labels = _landscape_model(data)
    n = patterns.shape[1]
    x = pl.number(data, "x", -1e6, 1e6)
    y = pl.number(data, "y", -1e6, 1e6)
    rng = np.random.default_rng(_seed(data, "start_seed"))
    states = all_states(n)
    axes = _axes(patterns)
    xy = states @ axes.T
    dist = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
    nearest = np.flatnonzero(dist <= dist.min() + 1e-9)
    state = states[rng.choice(nearest)]
    path, path_energy = [state], [float(model.energy(state))]
    converged = False
    for s in _seeds(_seed(data, "run_seed"), pl.MAX_SWEEPS):
        order, final, energies = _sweep_plan(model, path[-1], s, 0.0)
        if np.array_equal(final, path[-1]):
            converged = True
            break
        cur = path[-1].copy()
        for k, i in enumerate(order):
            if cur[i] != final[i]:
                cur[i] = final[i]
                path.append(cur.copy())
                path_energy.append(float(energies[k + 1]))
    points = np.stack(path) @ axes.T
    end = path[-1]
    m = np.asarray(model.overlaps(end), dtype=np.float64)
    return {
        "start": state.tolist(),
        "end": end.tolist(),
        "points": points.tolist(),
        "energies": path_energy,
        "flips": len(path) - 1,
        "converged": converged,
        "reached": _reached(end, patterns, labels, m, converged),
    }
