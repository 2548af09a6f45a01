"""The version is written once (Cargo.toml) and everything reports that one."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import hopfield

ROOT = Path(__file__).resolve().parents[1]


def cargo_version() -> str:
    manifest = (ROOT / "Cargo.toml").read_text(encoding="utf-8")
    package = manifest.split("[package]", 1)[1].split("\n[", 1)[0]
    found = re.search(r'^version\s*=\s*"([^"]+)"', package, flags=re.M)
    assert found, "Cargo.toml has no [package] version"
    return found.group(1)


def test_one_version_everywhere() -> None:
    version = cargo_version()
    assert hopfield.__version__ == version
    assert importlib.metadata.version("hopfield") == version
    proc = subprocess.run(
        [sys.executable, "-m", "hopfield", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert proc.stdout.strip() == f"hopfield {version}"


def test_pyproject_takes_the_version_from_cargo() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = pyproject.split("[project]", 1)[1].split("\n[", 1)[0]
    assert re.search(r"^dynamic\s*=\s*\[[^\]]*\"version\"", project, flags=re.M)
    assert not re.search(r"^version\s*=", project, flags=re.M), "a second version in pyproject"
