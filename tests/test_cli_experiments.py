"""``hopfield capacity | robustness | spurious | bench``."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import hopfield as hf
import numpy as np
import pytest
from hopfield import experiments as ex
from hopfield.lab.bench import BENCHES
from hopfield.lab.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(argv)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_capacity_table_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    js, png = tmp_path / "cap.json", tmp_path / "cap.png"
    argv = ["capacity", "--n", "200", "--loads", "0.05:0.2:0.05", "--trials", "2", "--seed", "4"]
    rc, out, err = run([*argv, "--json", str(js), "--plot", str(png)], capsys)
    assert rc == 0, err
    assert re.search(r"alpha\s+P\s+overlap\s+exact\s+fixed\s+AGS m", out)
    assert re.search(r"^\s+0\.050\s+10\s+1\.0000", out, re.MULTILINE)
    assert "alpha_c = 0.1379" in out
    assert "capacity" in err  # the progress bar
    data = json.loads(js.read_text())
    assert data["command"] == "capacity" and data["n"] == 200
    assert data["loads"] == [0.05, 0.1, 0.15, 0.2]
    direct = ex.capacity_curve("hebbian", 200, [0.05, 0.1, 0.15, 0.2], trials=2, seed=4)
    assert np.allclose(data["mean_overlap"], direct.mean_overlap)
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_capacity_defaults_without_progress(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(["capacity", "--n", "100", "--trials", "1", "--no-progress"], capsys)
    assert rc == 0
    assert "capacity" not in err
    assert len(re.findall(r"^\s+0\.\d{3}\s+\d+\s", out, re.MULTILINE)) == 12  # 0.02:0.24:0.02


def test_robustness(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    js, png = tmp_path / "r.json", tmp_path / "r.png"
    argv = ["robustness", "--n", "200", "--load", "0.05", "--noise-levels", "0,0.1,0.5"]
    rc, out, err = run([*argv, "--no-progress", "--json", str(js), "--plot", str(png)], capsys)
    assert rc == 0, err
    assert re.search(r"^\s+0\.000\s+\+1\.0000\s+1\.000\s+1\.000", out, re.MULTILINE)
    data = json.loads(js.read_text())
    assert data["P"] == 10 and data["noise_levels"] == [0.0, 0.1, 0.5]
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_spurious(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    js, png = tmp_path / "s.json", tmp_path / "s.png"
    argv = ["spurious", "--n", "200", "--load", "0.03", "--starts", "400", "--no-progress"]
    rc, out, err = run([*argv, "--json", str(js), "--plot", str(png)], capsys)
    assert rc == 0, err
    for cat in ex.CATEGORIES:
        assert re.search(rf"^\s+{cat}\s+\d+\s+\d+\s+[\d.]+%", out, re.MULTILINE), cat
    data = json.loads(js.read_text())
    assert sum(data["counts"].values()) == data["distinct"]
    assert sum(data["visits"]) == data["converged"] == 400
    assert data["counts"]["stored"] == 6
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_bench_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    js, png = tmp_path / "b.json", tmp_path / "b.png"
    argv = ["bench", "--quick", "--repeats", "1", "--threads", "2", "--no-progress"]
    rc, out, err = run([*argv, "--json", str(js), "--plot", str(png)], capsys)
    assert rc == 0, err
    for name in BENCHES:
        assert re.search(rf"^\s+{name}\s.*\s[\d.]+x\s+yes$", out, re.MULTILINE), name
    rows = json.loads(js.read_text())["rows"]
    assert [r["name"] for r in rows] == list(BENCHES)
    assert all(r["agree"] and r["speedup"] > 0 for r in rows)
    assert png.read_bytes()[:8] == PNG_MAGIC
    rc, out, _ = run(["bench", "--quick", "--repeats", "1", "--only", "modern"], capsys)
    assert rc == 0 and "hebbian" not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["capacity", "--model", "nope"], "--model must be one of "),
        (["capacity", "--plot", "/no/such/folder/x.png"], "folder /no/such/folder"),
        (["capacity", "--loads", "-0.1"], "loads must"),
        (["bench", "--only", "bogus"], "unknown benches ['bogus']"),
        (["robustness", "--noise-levels", "0,2"], "--noise-levels must lie in [0, 1]"),
    ],
)
def test_errors_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run([*argv, "--no-progress"], capsys)
    assert rc == 2
    assert message in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["capacity", "--loads", "a,b"], "expected numbers like"),
        (["capacity", "--loads", "0.3:0.1:0.1"], "expected numbers like"),
        (["robustness", "--load", "2"], "expected a number in [0, 1]"),
        (["spurious", "--starts", "0"], "expected a positive integer"),
    ],
)
def test_bad_arguments(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in ("demo", "capacity", "robustness", "spurious", "bench"):
        assert cmd in out


def test_registered_model_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    ex.register_model("cli-test", lambda n: hf.HopfieldNetwork(n))
    try:
        rc, out, _ = run(
            [
                "capacity",
                "--model",
                "cli-test",
                "--n",
                "64",
                "--loads",
                "0.1",
                "--trials",
                "1",
                "--no-progress",
            ],
            capsys,
        )
        assert rc == 0 and "Capacity: cli-test" in out
    finally:
        del ex.MODELS["cli-test"]


def test_plot_without_matplotlib_exits_2_before_the_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delattr(hf, "plot", raising=False)
    monkeypatch.delattr(hf.lab, "plot", raising=False)
    monkeypatch.delitem(sys.modules, "hopfield.plot", raising=False)
    monkeypatch.delitem(sys.modules, "hopfield.lab.plot", raising=False)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    png = tmp_path / "x.png"
    rc, out, err = run(["capacity", "--n", "64", "--no-progress", "--plot", str(png)], capsys)
    assert rc == 2
    assert "pip install 'hopfield[plot]'" in err
    assert out == "" and not png.exists()
