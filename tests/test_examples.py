"""Every script in ``examples/`` runs at a small size and reproduces its finding."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hopfield import experiments

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load(name: str) -> ModuleType:
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name: str, args: list[str], tmp_path: Path) -> object:
    png = tmp_path / f"{name}.png"
    result = load(name).main([*args, "--plot", str(png)])
    assert png.read_bytes()[:8] == PNG_MAGIC
    return result


def test_every_example_is_tested() -> None:
    tested = {
        "letters_retrieval",
        "capacity_curve",
        "noise_robustness",
        "spurious_attractors",
        "correlated_images",
        "modern_beta_sweep",
        "dense_capacity",
        "energy_landscape",
        "continuous_dynamics",
        "photo_recall",
        "spiking_memory",
    }
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


def test_letters_retrieval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run("letters_retrieval", ["--letters", "HOTX", "--flip", "0.15"], tmp_path)
    assert out == {"recalled": 1.0, "mean_overlap": 1.0}
    assert "recalled exactly: 100% of 4 letters" in capsys.readouterr().out
    assert (tmp_path / "letters_retrieval_energy.png").read_bytes()[:8] == PNG_MAGIC


def test_capacity_curve(tmp_path: Path) -> None:
    results = run("capacity_curve", ["--sizes", "100,300", "--trials", "3"], tmp_path)
    assert [r.n for r in results] == [100, 300]
    for r in results:
        assert r.mean_overlap[r.loads == 0.05][0] > 0.99
        assert r.mean_overlap[-1] < 0.7  # alpha = 0.3


def test_noise_robustness(tmp_path: Path) -> None:
    low, high = run("noise_robustness", ["--n", "200", "--trials", "3"], tmp_path)
    assert low.mean_overlap[0] == 1.0
    assert low.model == "hebbian, P/N = 0.05"
    # A fuller memory is less robust.
    assert low.mean_overlap[:7].mean() > high.mean_overlap[:7].mean()


def test_spurious_attractors(tmp_path: Path) -> None:
    low, mid, high = run(
        "spurious_attractors",
        ["--n", "100", "--starts", "400", "--loads", "0.03,0.05,0.2"],
        tmp_path,
    )
    assert low.counts["stored"] == 3 and low.counts["mixture"] > 0
    assert high.counts["stored"] == 0 and high.counts["other"] > 0


def test_correlated_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recalled = run("correlated_images", ["--max-letters", "5", "--trials", "2"], tmp_path)
    assert set(recalled) <= {"hebbian", "storkey", "pseudoinverse"}
    heb = recalled["hebbian"]
    assert heb.shape == (4, 2)  # k = 2..5, (from itself, from noise)
    assert heb[0, 0] == 1.0 and heb[-1, 0] < 1.0  # correlated letters defeat Hebb early
    if "pseudoinverse" in recalled:  # registered once the learning rules are merged
        assert np.all(recalled["pseudoinverse"][:, 0] == 1.0)
    out = capsys.readouterr().out
    assert "mean |overlap| between letters" in out


def test_modern_beta_sweep(tmp_path: Path) -> None:
    res = run("modern_beta_sweep", ["--patterns", "200", "--queries", "40"], tmp_path)
    assert np.all(np.diff(res["max_weight"]) > 0)
    assert np.all(np.diff(res["entropy"]) < 0)
    assert res["max_weight"][0] < 0.05 and res["max_weight"][-1] > 0.99
    assert res["cosine"][-1] > 0.99 > res["cosine"][0]


def test_dense_capacity(tmp_path: Path) -> None:
    results = run("dense_capacity", ["--n", "64", "--max-load", "0.5", "--trials", "1"], tmp_path)
    kinds = [r.model for r in results]
    assert kinds[0] == "hebbian"
    assert set(kinds) == {
        k for k in ("hebbian", "dense-poly3", "dense-exp") if k in experiments.MODELS
    }


def test_energy_landscape(tmp_path: Path) -> None:
    path = run("energy_landscape", ["--n", "100"], tmp_path)
    assert path.states.shape == (3, 7, 100)
    assert np.all(np.diff(path.energy, axis=1) <= 1e-9)


def test_continuous_dynamics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run("continuous_dynamics", ["--n", "200", "--patterns", "10"], tmp_path)
    assert isinstance(out, dict)
    assert out["monotone"] is True and out["hidden_retrieved"] is True
    ratios, overlaps = out["ratios"], out["overlaps"]
    assert np.all(overlaps[ratios < 1] < 1e-3)  # below the critical gain: decay to 0
    assert np.all(overlaps[ratios >= 3] > 0.9)  # well above it: the pattern
    assert "energy non-increasing on every trace: True" in capsys.readouterr().out


def test_photo_recall(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 32 x 32 instead of 128 x 128: the same photographs, N = 1,024.
    rates = run("photo_recall", ["--size", "32", "--counts", "2,6"], tmp_path)
    models = ("hebbian", "storkey", "pseudoinverse", "dense x^3", "dense exp", "modern")
    for name in models:
        for cue in ("noise", "half", "clamped"):
            assert rates[(name, 2, cue)] == 1.0, (name, cue)
    # Six photographs confuse the Hebbian network from a half; clamping the
    # known half recalls some; the modern and exponential memories recall all.
    assert rates[("hebbian", 6, "half")] < rates[("hebbian", 6, "clamped")]
    for name in ("modern", "dense exp"):
        assert all(rates[(name, 6, cue)] == 1.0 for cue in ("noise", "half", "clamped"))
    out = capsys.readouterr().out
    assert "| hebbian | 6 |" in out and "photographs at 32x32 (N = 1024)" in out


def test_spiking_memory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run("spiking_memory", ["--n", "400", "--duration", "200"], tmp_path)
    assert isinstance(out, dict)
    assert out["held"] >= 0.9 and out["others"] < 0.3
    assert out["silent_spikes"] == 0
    assert "overlap with the cued pattern" in capsys.readouterr().out
