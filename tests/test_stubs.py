"""The type stubs of the extension, ``hopfield/_core.pyi``, match the extension.

``mypy.stubtest`` imports the built ``hopfield._core`` and compares every name,
signature, property and ``__all__`` entry with the stub. The stub checked is
the one in this repository's ``python/`` folder (put first on ``MYPYPATH``);
the extension is whatever ``import hopfield`` loads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import hopfield

REPO_PYTHON = Path(__file__).resolve().parents[1] / "python"


def test_stubtest_passes(tmp_path: Path) -> None:
    try:
        import mypy.stubtest  # noqa: F401
    except ImportError as exc:  # pragma: no cover - mypy is part of the environment
        raise AssertionError(
            "mypy is needed to check python/hopfield/_core.pyi: pip install mypy"
        ) from exc

    env = dict(os.environ, MYPY_CACHE_DIR=str(tmp_path / "mypy_cache"))
    stub = REPO_PYTHON / "hopfield" / "_core.pyi"
    if stub.is_file():
        env["MYPYPATH"] = str(REPO_PYTHON)
    else:  # tests run outside the checkout: check the installed stub
        stub = Path(hopfield.__file__).parent / "_core.pyi"
    assert stub.is_file(), f"no stub file for hopfield._core at {stub}"
    config = tmp_path / "mypy.ini"  # isolate from any user or project configuration
    config.write_text("[mypy]\n")
    cmd = [
        sys.executable,
        "-m",
        "mypy.stubtest",
        "hopfield._core",
        "--mypy-config-file",
        str(config),
    ]
    # tmp_path as working directory: the extension is imported as installed,
    # never from a stray build in the checkout.
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, (
        f"stubtest found differences between {stub} and the extension:\n"
        f"{proc.stdout}\n{proc.stderr}"
    )


def test_package_type_checks(tmp_path: Path) -> None:
    """The package ships ``py.typed``, so mypy must accept all of it (stubtest
    only follows what the extension's stub imports)."""
    env = dict(os.environ, MYPY_CACHE_DIR=str(tmp_path / "mypy_cache"))
    root = REPO_PYTHON if (REPO_PYTHON / "hopfield" / "_core.pyi").is_file() else None
    if root is None:  # tests run outside the checkout: check the installed package
        root = Path(hopfield.__file__).parents[1]
    env["MYPYPATH"] = str(root)
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n")
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(config), "-p", "hopfield"]
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, f"mypy found errors in the package:\n{proc.stdout}\n{proc.stderr}"
