"""Figures for associative memories (needs matplotlib: ``pip install 'hopfield[plot]'``).

Every function returns a :class:`matplotlib.figure.Figure` built without
``pyplot`` (no global state, any backend; save it with ``fig.savefig``).
Functions that draw a single panel also take ``ax=`` to draw into an
existing axes, and then return that axes' figure.

* :func:`pattern_grid` — patterns as little images;
* :func:`retrieval_panels` — query → retrieved (→ original) per row;
* :func:`energy_traces` — energy against sweep, one line per query;
* :func:`capacity_plot` — measured overlap against load with the AGS theory line;
* :func:`robustness_plot` — retrieval against the fraction of flipped spins;
* :func:`similarity_heatmap` — pattern overlaps as a heat map;
* :func:`energy_landscape` — retrieval trajectories projected to 2-D, energy as colour;
* :func:`census_plot` — the spurious-attractor census as bars;
* :func:`speedup_plot` — the ``hopfield bench`` speed-ups as bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..results import Retrieval
from ..spins import as_spins
from . import theory
from .experiments import (
    CATEGORIES,
    CapacityResult,
    RobustnessResult,
    SpuriousCensus,
    Trajectories,
    similarity_matrix,
    trajectories,
)
from .images import to_image

try:
    from matplotlib.figure import Figure
except ImportError as exc:  # pragma: no cover - exercised by test_plot via a subprocess
    raise ImportError(
        "hopfield.plot needs matplotlib, which is not installed: "
        "pip install 'hopfield[plot]' (or pip install matplotlib)"
    ) from exc

__all__ = [
    "capacity_plot",
    "census_plot",
    "energy_landscape",
    "energy_traces",
    "pattern_grid",
    "retrieval_panels",
    "robustness_plot",
    "similarity_heatmap",
    "speedup_plot",
]


def _axes(ax: Any, figsize: tuple[float, float]) -> tuple[Figure, Any]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _images(states: ArrayLike, shape: tuple[int, int], name: str) -> np.ndarray:
    s = as_spins(states, name=name)
    if s.ndim == 1:
        s = s.reshape(1, -1)
    return to_image(s, shape)


def _show(ax: Any, img: np.ndarray, title: str | None = None) -> None:
    ax.imshow(img, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def pattern_grid(
    patterns: ArrayLike,
    shape: tuple[int, int],
    *,
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    cell: float = 1.2,
) -> Figure:
    """Patterns as a grid of little images (``+1`` dark, ``-1`` light).

    Parameters
    ----------
    patterns : array_like
        Spins ``(P, H·W)`` or one ``(H·W,)``.
    shape : tuple of int
        ``(H, W)`` of one image.
    titles : sequence of str, optional
        One title per pattern.
    ncols : int, optional
        Images per row (default: up to 10).
    cell : float
        Size of one image in inches.
    """
    imgs = _images(patterns, shape, "patterns")
    p = len(imgs)
    if p == 0:
        raise ValueError("patterns must hold at least one pattern to draw")
    if titles is not None and len(titles) != p:
        raise ValueError(f"titles must have one entry per pattern ({p}), got {len(titles)}")
    ncols = min(p, 10) if ncols is None else max(1, int(ncols))
    nrows = -(-p // ncols)
    h, w = shape
    fig = Figure(figsize=(cell * ncols, cell * nrows * h / w + 0.3 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k < p:
            _show(ax, imgs[k], None if titles is None else titles[k])
        else:
            ax.set_axis_off()
    return fig


def retrieval_panels(
    queries: ArrayLike,
    retrieved: ArrayLike | Retrieval,
    shape: tuple[int, int],
    *,
    originals: ArrayLike | None = None,
    cell: float = 1.4,
) -> Figure:
    """One row per query: query → retrieved (→ original).

    Parameters
    ----------
    queries : array_like
        The queries ``(B, H·W)``.
    retrieved : array_like or Retrieval
        The final states ``(B, H·W)``, or the :class:`~hopfield.Retrieval`.
    shape : tuple of int
        ``(H, W)`` of one image.
    originals : array_like, optional
        The patterns the queries came from; adds a third column and the
        final overlap with them in the titles.
    """
    states = retrieved.states if isinstance(retrieved, Retrieval) else retrieved
    q = _images(queries, shape, "queries")
    r = _images(states, shape, "retrieved")
    if len(q) != len(r):
        raise ValueError(f"queries and retrieved differ in length: {len(q)} and {len(r)}")
    cols = [("query", q), ("retrieved", r)]
    overlaps = None
    if originals is not None:
        o = _images(originals, shape, "originals")
        if len(o) != len(q):
            raise ValueError(f"originals must have {len(q)} rows, got {len(o)}")
        cols.append(("original", o))
        overlaps = ((2 * r - 1) * (2 * o - 1)).reshape(len(q), -1).mean(axis=1)
    h, w = shape
    fig = Figure(
        figsize=(cell * len(cols), cell * len(q) * h / w + 0.35 * len(q)), layout="constrained"
    )
    axes = fig.subplots(len(q), len(cols), squeeze=False)
    for i in range(len(q)):
        for j, (name, imgs) in enumerate(cols):
            title = name if i == 0 else None
            if j == 1 and overlaps is not None:
                title = f"{name}\nm = {overlaps[i]:+.2f}" if i == 0 else f"m = {overlaps[i]:+.2f}"
            _show(axes[i, j], imgs[i], title)
    return fig


def energy_traces(
    traces: ArrayLike | Retrieval,
    *,
    ax: Any = None,
    labels: Sequence[str] | None = None,
) -> Figure:
    """Energy against sweep, one line per query.

    Parameters
    ----------
    traces : array_like or Retrieval
        ``(B, T)`` energies (NaN after a query stopped), e.g. the
        ``energy_trace`` of a retrieval run with ``track_energy=True``, or
        that :class:`~hopfield.Retrieval` itself.
    """
    if isinstance(traces, Retrieval):
        if traces.energy_trace is None:
            raise ValueError("the retrieval has no energy_trace: retrieve with track_energy=True")
        traces = traces.energy_trace
    e = np.array(traces, dtype=np.float64, ndmin=2)
    if e.ndim != 2 or e.size == 0:
        raise ValueError(f"traces must be 1-D or 2-D energies, got shape {e.shape}")
    fig, ax = _axes(ax, (5, 3.2))
    sweeps = np.arange(e.shape[1])
    for k, row in enumerate(e):
        ax.plot(sweeps, row, marker="o", ms=3, lw=1.2, label=None if labels is None else labels[k])
    ax.set_xlabel("sweep")
    ax.set_ylabel("energy E(s)")
    ax.set_title("Energy never increases under asynchronous updates", fontsize=10)
    if labels is not None:
        ax.legend(fontsize=8)
    return fig


def capacity_plot(
    results: CapacityResult | Sequence[CapacityResult],
    *,
    theory_line: bool = True,
    fixed: bool = True,
    ax: Any = None,
) -> Figure:
    """Mean final overlap against load ``α = P/N``, with the AGS theory line.

    Parameters
    ----------
    results : CapacityResult or sequence of them
        From :func:`hopfield.experiments.capacity_curve` (several models or
        sizes on one plot).
    theory_line : bool
        Draw the AGS zero-temperature overlap ``m(α)`` and ``α_c``.
    fixed : bool
        Also draw the fraction of stored patterns that are fixed points
        (dashed), with the McEliece exact-recall load ``1/(2 ln N)``.
    """
    rs = [results] if isinstance(results, CapacityResult) else list(results)
    if not rs:
        raise ValueError("results must hold at least one CapacityResult")
    fig, ax = _axes(ax, (6, 3.8))
    hi = max(float(r.loads.max()) for r in rs)
    for r in rs:
        (line,) = ax.plot(
            r.loads, r.mean_overlap, marker="o", ms=3, label=f"{r.model}, N = {r.n}: overlap"
        )
        if fixed:
            ax.plot(
                r.loads,
                r.fixed_fraction,
                ls="--",
                color=line.get_color(),
                label=f"{r.model}, N = {r.n}: fixed points",
            )
            ax.axvline(
                float(theory.mceliece_capacity(r.n)) / r.n,
                color=line.get_color(),
                ls=":",
                lw=1,
            )
    if theory_line:
        a = np.linspace(0.0, max(hi, theory.alpha_c * 1.3), 400)
        ax.plot(a, theory.ags_overlap(a), color="k", lw=1.5, label="AGS theory m(α), N → ∞")
        ax.axvline(theory.alpha_c, color="k", ls=":", lw=1)
        ax.annotate(
            f"α_c = {theory.alpha_c:.3f}",
            (theory.alpha_c, 0.05),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=8,
        )
    ax.set_xlabel("load α = P / N")
    ax.set_ylabel("mean final overlap")
    ax.set_ylim(-0.05, 1.05)
    noise = rs[0].noise
    ax.set_title(
        "Retrieval from " + ("the stored patterns" if noise == 0 else f"{noise:.0%} flipped spins"),
        fontsize=10,
    )
    ax.legend(fontsize=7, loc="lower left")
    return fig


def robustness_plot(
    results: RobustnessResult | Sequence[RobustnessResult],
    *,
    ax: Any = None,
) -> Figure:
    """Mean final overlap and recalled fraction against the fraction of flipped spins."""
    rs = [results] if isinstance(results, RobustnessResult) else list(results)
    if not rs:
        raise ValueError("results must hold at least one RobustnessResult")
    fig, ax = _axes(ax, (6, 3.8))
    for r in rs:
        (line,) = ax.plot(
            r.noise_levels, r.mean_overlap, marker="o", ms=3, label=f"{r.model}: overlap"
        )
        ax.plot(
            r.noise_levels,
            r.recalled_fraction,
            ls="--",
            color=line.get_color(),
            label=f"{r.model}: recalled (m ≥ {r.min_overlap:g})",
        )
    ax.set_xlabel("fraction of flipped spins in the query")
    ax.set_ylabel("mean final overlap / fraction")
    low = min(float(np.min(r.mean_overlap)) for r in rs)
    ax.set_ylim(min(-0.05, low - 0.05), 1.05)  # overlaps go negative only on reversed recall
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set_title("Noise robustness", fontsize=10)
    ax.legend(fontsize=7)
    return fig


def similarity_heatmap(
    patterns: ArrayLike,
    *,
    labels: Sequence[str] | None = None,
    ax: Any = None,
) -> Figure:
    """Overlaps ``ξ^μ·ξ^ν/N`` between patterns as a heat map (−1 blue, +1 red)."""
    s = similarity_matrix(patterns)
    fig, ax = _axes(ax, (4.6, 4))
    im = ax.imshow(s, cmap="RdBu_r", vmin=-1, vmax=1)
    fig.colorbar(im, ax=ax, shrink=0.8, label="overlap")
    if labels is not None:
        if len(labels) != len(s):
            raise ValueError(
                f"labels must have one entry per pattern ({len(s)}), got {len(labels)}"
            )
        ax.set_xticks(range(len(s)), labels, fontsize=7)
        ax.set_yticks(range(len(s)), labels, fontsize=7)
    ax.set_title("Pattern similarity", fontsize=10)
    return fig


def energy_landscape(
    model: Any,
    queries: ArrayLike,
    *,
    sweeps: int = 8,
    patterns: ArrayLike | None = None,
    background: int = 2000,
    seed: int | None = None,
    ax: Any = None,
) -> Figure:
    """Retrieval trajectories on a 2-D map of state space, energy as colour.

    The stored patterns and every state visited (recorded sweep by sweep with
    :func:`hopfield.experiments.trajectories`) are projected onto their two
    leading principal components. Background dots are random states near
    the trajectories, coloured by energy; the paths run from the queries
    (circles) down to where they settle, the stored patterns are stars.

    Parameters
    ----------
    model : model
        A model holding its patterns, with ``retrieve`` and ``energy``.
    queries : array_like
        Starting states ``(B, N)``.
    sweeps : int
        Sweeps to record.
    patterns : array_like, optional
        The stored patterns (default: ``model.patterns``).
    background : int
        Number of background states (corrupted copies of visited states).
    seed : int or None
        Makes the picture reproducible.
    """
    path: Trajectories = trajectories(model, queries, sweeps=sweeps, seed=seed)
    pats = as_spins(model.patterns if patterns is None else patterns, name="patterns")
    b, t, n = path.states.shape
    visited = path.states.reshape(-1, n)
    rng = np.random.default_rng(seed)
    # Background: visited states with a random fraction of their spins flipped.
    base = visited[rng.integers(0, len(visited), background)]
    flips = rng.random((background, n)) < rng.uniform(0.0, 0.5, (background, 1))
    cloud = np.where(flips, -base, base).astype(np.int8)
    cloud_e = np.asarray(model.energy(cloud), dtype=np.float64)
    pts = np.concatenate([visited, pats, cloud]).astype(np.float64)
    center = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts[: len(visited) + len(pats)] - center, full_matrices=False)
    proj = (pts - center) @ vt[:2].T
    pv, pp, pc = np.split(proj, [len(visited), len(visited) + len(pats)])
    pv = pv.reshape(b, t, 2)
    fig, ax = _axes(ax, (5.6, 4.4))
    emin = min(float(np.nanmin(path.energy)), float(cloud_e.min()))
    emax = max(float(np.nanmax(path.energy)), float(cloud_e.max()))
    sc = ax.scatter(
        pc[:, 0], pc[:, 1], c=cloud_e, s=6, cmap="viridis", vmin=emin, vmax=emax, alpha=0.5
    )
    for k in range(b):
        ax.plot(pv[k, :, 0], pv[k, :, 1], color="0.2", lw=1)
        ax.scatter(
            pv[k, :, 0],
            pv[k, :, 1],
            c=path.energy[k],
            cmap="viridis",
            vmin=emin,
            vmax=emax,
            s=22,
            edgecolors="k",
            linewidths=0.4,
            zorder=3,
        )
        ax.scatter(pv[k, 0, 0], pv[k, 0, 1], marker="o", s=60, facecolors="none", edgecolors="r")
    ax.scatter(
        pp[:, 0],
        pp[:, 1],
        marker="*",
        s=160,
        c="r",
        edgecolors="k",
        zorder=4,
        label="stored patterns",
    )
    fig.colorbar(sc, ax=ax, shrink=0.85, label="energy E(s)")
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    ax.set_title("Retrieval rolls downhill to a stored pattern", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    return fig


def census_plot(census: SpuriousCensus, *, ax: Any = None) -> Figure:
    """Distinct fixed points and share of starts per category of a census."""
    if not isinstance(census, SpuriousCensus):
        raise TypeError(
            "census must be a SpuriousCensus (from hopfield.experiments.spurious_census), "
            f"got {type(census).__name__}"
        )
    fig, ax = _axes(ax, (6, 3.4))
    x = np.arange(len(CATEGORIES))
    distinct = [census.counts[c] for c in CATEGORIES]
    share = [
        float(census.visits[census.category == c].sum()) / max(census.converged, 1)
        for c in CATEGORIES
    ]
    bars = ax.bar(x - 0.2, distinct, width=0.4, label="distinct fixed points", color="C0")
    ax.bar_label(bars, fontsize=7)
    ax.set_ylabel("distinct fixed points")
    ax.set_xticks(x, CATEGORIES)
    twin = ax.twinx()
    twin.bar(x + 0.2, share, width=0.4, label="share of starts", color="C1")
    twin.set_ylabel("share of starts")
    twin.set_ylim(0, 1)
    ax.set_title(
        f"Attractors from {census.n_starts} random starts (P = {census.num_patterns})",
        fontsize=10,
    )
    handles = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], fontsize=7, loc="upper left")
    return fig


def speedup_plot(rows: Sequence[Any], *, ax: Any = None) -> Figure:
    """Speed-up of Rust over the NumPy reference per bench (rows of ``hopfield bench``)."""
    if not rows:
        raise ValueError("rows must hold at least one bench result")
    fig, ax = _axes(ax, (6.5, 1.3 + 0.45 * len(rows)))
    names = [f"{r.name} ({r.size})" for r in rows]
    bars = ax.barh(names, [r.speedup for r in rows], color="C2")
    ax.bar_label(bars, labels=[f"{r.speedup:.1f}x" for r in rows], fontsize=7)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlim(0.5, 4 * max(max(r.speedup for r in rows), 1.0))
    ax.set_xlabel("Rust speed-up over the NumPy reference, per query")
    ax.invert_yaxis()
    return fig
