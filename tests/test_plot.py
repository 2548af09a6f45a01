"""hopfield.plot: every figure renders to a PNG with the Agg backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import hopfield as hf
import matplotlib
import numpy as np
import pytest
from hopfield import experiments as ex
from hopfield import plot

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import imread  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_png(fig: Figure, path: Path, *, min_colours: int = 3) -> np.ndarray:
    assert isinstance(fig, Figure)
    fig.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    img = imread(path)
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50
    # Something was drawn: more than a blank canvas.
    colours = np.unique(img.reshape(-1, img.shape[2]), axis=0)
    assert len(colours) >= min_colours
    return img


@pytest.fixture(scope="module")
def letters() -> tuple[hf.HopfieldNetwork, np.ndarray, tuple[int, int]]:
    pats, shape = hf.letter_patterns("HOTX")
    net = hf.HopfieldNetwork(pats.shape[1])
    net.store(pats)
    return net, pats, shape


def test_pattern_grid(tmp_path: Path, letters) -> None:  # type: ignore[no-untyped-def]
    _, pats, shape = letters
    fig = plot.pattern_grid(pats, shape, titles=list("HOTX"), ncols=3)
    assert len([a for a in fig.axes if a.get_visible() and a.axison]) == 4
    check_png(fig, tmp_path / "grid.png", min_colours=2)
    with pytest.raises(ValueError, match="titles"):
        plot.pattern_grid(pats, shape, titles=["A"])


def test_retrieval_panels(tmp_path: Path, letters) -> None:  # type: ignore[no-untyped-def]
    net, pats, shape = letters
    queries = hf.corrupt(pats, flip=0.1, seed=0)
    res = net.retrieve(queries, seed=1)
    fig = plot.retrieval_panels(queries, res, shape, originals=pats)
    assert len(fig.axes) == 12
    titles = [a.get_title() for a in fig.axes]
    assert any("m = +1.00" in t for t in titles)
    check_png(fig, tmp_path / "panels.png", min_colours=2)
    fig2 = plot.retrieval_panels(queries, res.states, shape)
    assert len(fig2.axes) == 8
    with pytest.raises(ValueError, match="differ in length"):
        plot.retrieval_panels(queries[:2], res, shape)


def test_energy_traces(tmp_path: Path, letters) -> None:  # type: ignore[no-untyped-def]
    net, pats, _ = letters
    res = net.retrieve(hf.corrupt(pats, flip=0.2, seed=2), seed=3, track_energy=True)
    fig = plot.energy_traces(res, labels=list("HOTX"))
    lines = fig.axes[0].get_lines()
    assert len(lines) == 4
    y = lines[0].get_ydata()
    assert np.all(np.diff(y[~np.isnan(y)]) <= 0)
    check_png(fig, tmp_path / "energy.png")
    with pytest.raises(ValueError, match="track_energy"):
        plot.energy_traces(net.retrieve(pats, seed=0))


def test_capacity_plot_with_theory(tmp_path: Path) -> None:
    r = ex.capacity_curve("hebbian", 200, [0.05, 0.1, 0.15, 0.2], seed=0)
    fig = plot.capacity_plot(r)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert any("AGS" in label for label in labels)
    assert any("fixed points" in label for label in labels)
    check_png(fig, tmp_path / "capacity.png")
    fig2 = plot.capacity_plot([r, r], theory_line=False, fixed=False)
    assert not any("AGS" in line.get_label() for line in fig2.axes[0].get_lines())
    with pytest.raises(ValueError, match="at least one"):
        plot.capacity_plot([])


def test_robustness_plot(tmp_path: Path) -> None:
    r = ex.noise_robustness("hebbian", hf.random_patterns(5, 100, seed=0), [0, 0.2, 0.4], seed=0)
    fig = plot.robustness_plot(r)
    assert len(fig.axes[0].get_lines()) >= 2
    check_png(fig, tmp_path / "robust.png")


def test_similarity_heatmap(tmp_path: Path) -> None:
    d = hf.datasets.letters("ABCDE")
    fig = plot.similarity_heatmap(d.patterns, labels=list(d.labels))
    image = fig.axes[0].get_images()[0].get_array()
    assert np.allclose(image, ex.similarity_matrix(d.patterns))
    check_png(fig, tmp_path / "similarity.png")
    with pytest.raises(ValueError, match="labels"):
        plot.similarity_heatmap(d.patterns, labels=["A"])


def test_energy_landscape(tmp_path: Path) -> None:
    pats = hf.random_patterns(3, 120, seed=4)
    net = hf.HopfieldNetwork(120)
    net.store(pats)
    queries = hf.corrupt(pats, flip=0.3, seed=5)
    fig = plot.energy_landscape(net, queries, sweeps=5, background=300, seed=0)
    check_png(fig, tmp_path / "landscape.png", min_colours=20)
    traj = ex.trajectories(net, queries, sweeps=5, seed=0)
    assert traj.states.shape == (3, 6, 120)
    assert np.array_equal(traj.states[:, 0], queries)
    assert np.all(np.diff(traj.energy, axis=1) <= 1e-12)  # async never goes uphill
    assert np.allclose(traj.energy, net.energy(traj.states.reshape(-1, 120)).reshape(3, 6))


def test_plot_without_matplotlib_says_how_to_install(tmp_path: Path) -> None:
    code = "import sys; sys.modules['matplotlib'] = None; sys.modules['matplotlib.figure'] = None\n"
    code += "import hopfield.plot\n"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert proc.returncode != 0
    assert "pip install 'hopfield[plot]'" in proc.stderr
