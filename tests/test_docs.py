"""The documentation site builds, names every public object, and its examples run.

``mkdocs build --strict`` (mkdocs.yml, the ``docs`` extra) turns every warning
into an error: a broken link or anchor, a page left out of the navigation, a
reference to an object that does not exist. The site is built once per session;
its inventory (``objects.inv``, written by mkdocstrings) must hold an entry for
every name in ``hopfield.__all__`` and in the ``__all__`` of every public
module. Every ``python`` block of a page runs, in order, in a fresh interpreter
(the README's long examples moved here and stay tested).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import hopfield
import hopfield.lab.cli
import hopfield.lab.datasets
import hopfield.lab.distributed
import hopfield.lab.experiments
import hopfield.lab.images
import hopfield.lab.machine
import hopfield.lab.plot
import hopfield.lab.theory
import hopfield.reference
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Each public module and the name its entries carry in the inventory.
PUBLIC_MODULES = {
    "hopfield": hopfield,
    "hopfield.reference": hopfield.reference,
    "hopfield.lab.experiments": hopfield.lab.experiments,
    "hopfield.lab.theory": hopfield.lab.theory,
    "hopfield.lab.datasets": hopfield.lab.datasets,
    "hopfield.lab.images": hopfield.lab.images,
    "hopfield.lab.plot": hopfield.lab.plot,
    "hopfield.lab.machine": hopfield.lab.machine,
    "hopfield.lab.distributed": hopfield.lab.distributed,
}


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stderr[-5000:]}"
    return out


def inventory(site: Path) -> set[str]:
    """The object names in a Sphinx inventory (version 2) written by mkdocstrings."""
    data = (site / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):  # four header lines, then the zlib-compressed body
        header_end = data.index(b"\n", header_end) + 1
    body = zlib.decompress(data[header_end:]).decode("utf-8")
    return {line.split(" ", 1)[0] for line in body.splitlines() if line.strip()}


def test_site_has_every_page(site: Path) -> None:
    for page in ("index", "install", "quickstart", "cli", "performance", "guarantees",
                 "gallery", "guide/classical", "guide/dense", "guide/modern",
                 "guide/sampling", "guide/experiments", "api/index", "api/models"):  # fmt: skip
        html = site / (page[: -len("index")] if page.endswith("index") else f"{page}/")
        html = html / "index.html"
        assert html.exists(), f"{page} is missing from the site"
    assert (site / "capacity.png").exists(), "the gallery's figures are missing"


def test_every_public_name_has_a_reference_entry(site: Path) -> None:
    names = inventory(site)
    missing = [
        f"{prefix}.{name}"
        for prefix, module in PUBLIC_MODULES.items()
        for name in module.__all__
        if f"{prefix}.{name}" not in names
    ]
    assert not missing, f"no API reference entry for {missing}"
    assert "hopfield.lab.cli.main" in names


def test_inventory_reader_finds_names(tmp_path: Path) -> None:
    # The reader sees exactly the names an inventory holds.
    body = b"hopfield.x py:function 1 api/#$ -\nhopfield.y py:class 1 api/#$ -\n"
    header = b"# Sphinx inventory version 2\n# Project: p\n# Version: 0\n# zlib\n"
    (tmp_path / "objects.inv").write_bytes(header + zlib.compress(body))
    assert inventory(tmp_path) == {"hopfield.x", "hopfield.y"}


def python_blocks(text: str) -> list[str]:
    """The bodies of a page's fenced ``python`` blocks, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


PAGES_WITH_CODE = sorted(
    str(page.relative_to(DOCS)) for page in DOCS.rglob("*.md") if python_blocks(page.read_text())
)


def test_pages_have_examples() -> None:
    assert {"quickstart.md", "guide/classical.md", "guide/modern.md", "guide/dense.md",
            "guide/sampling.md", "guide/experiments.md"} <= set(PAGES_WITH_CODE)  # fmt: skip


@pytest.mark.parametrize("page", PAGES_WITH_CODE)
def test_page_examples_run(page: str, tmp_path: Path) -> None:
    blocks = python_blocks((DOCS / page).read_text(encoding="utf-8"))
    script = "\n".join(
        f"print('--- block {i}', flush=True)\n{block}" for i, block in enumerate(blocks)
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    ran = [line for line in proc.stdout.splitlines() if line.startswith("--- block")]
    assert proc.returncode == 0, (
        f"{page}: example failed after {ran[-1:] or 'no block'}:\n{proc.stderr[-3000:]}"
    )
    assert len(ran) == len(blocks)
