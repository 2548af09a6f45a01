"""The ``hopfield`` command line."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from hopfield.lab.cli import main


def check_demo_output(text: str) -> None:
    # Letters as text art, query -> retrieved, with overlap and sweeps.
    assert "query" in text and "retrieved" in text
    assert " -> " in text
    assert re.search(r"^\s+[#.]{7}\s+->\s+[#.]{7}", text, re.MULTILINE)
    assert re.search(r"H: m = [+-]\d\.\d\d, \d+ sweeps", text)
    # The speed part.
    speedup = r"Speed-up of Rust over the NumPy reference .*async [\d.]+x, sync [\d.]+x"
    assert re.search(speedup, text)
    assert "queries/s" in text
    assert "SIMD level" in text
    assert "nbytes = " in text
    assert "Identical final states: async yes, sync yes" in text


def test_demo_quick(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--quick", "--seed", "3", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    check_demo_output(out)
    assert "1 thread;" in out
    assert "1,000 queries" in out


def test_python_m_hopfield(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hopfield", "demo", "--quick"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    check_demo_output(proc.stdout)


def test_no_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "demo" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--threads", "0"], "--threads: expected a positive integer"),
        (["demo", "--seed", "x"], "--seed: expected an integer seed"),
        (["bogus"], "invalid choice"),
    ],
)
def test_bad_arguments(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_unknown_letter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--letters", "H7"]) == 2
    assert "no built-in bitmap" in capsys.readouterr().err
