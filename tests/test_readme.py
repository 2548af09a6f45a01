"""Every Python example of the README runs, as written, in order.

The README is the front page: a newcomer copies its blocks. They run in one
fresh interpreter (later blocks use names the earlier ones made, as a reader
would run them), in a temporary folder (one block saves a file). A block that
raises, or an ``assert`` in a block that fails, fails this test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: The front page stays a front page; the manual is the documentation site.
MAX_BYTES = 10 * 1024


def python_blocks(text: str) -> list[str]:
    """The bodies of the README's fenced ``python`` blocks, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_has_python_examples() -> None:
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 5, "the README's python examples were not found"
    assert python_blocks("```python\nx = 1\n```\ntext\n```bash\nls\n```\n") == ["x = 1\n"]


def test_every_readme_example_runs(tmp_path: Path) -> None:
    blocks = python_blocks(README.read_text(encoding="utf-8"))
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
        f"README example failed after {ran[-1:] or 'no block'}:\n{proc.stderr[-3000:]}"
    )
    assert len(ran) == len(blocks)


def test_readme_is_a_front_page() -> None:
    size = len(README.read_bytes())
    assert size <= MAX_BYTES, f"README.md is {size} bytes; move long material to docs/"


def _bash_block_after(text: str, heading: str) -> str:
    section = text.split(f"\n## {heading}\n", 1)[1]
    found = re.search(r"^```bash\n(.*?)^```", section, flags=re.S | re.M)
    assert found, f"no bash block under '## {heading}'"
    return found.group(1).strip()


def test_readme_commands_are_what_ci_runs() -> None:
    """The two commands (set up and run the demo; run the tests) are on the front
    page, and the test command is, command for command, what .ci/run runs."""
    text = README.read_text(encoding="utf-8")
    assert _bash_block_after(text, "Set up and run the demo") == "pip install . && hopfield demo"
    tests = _bash_block_after(text, "Tests")
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    for command in tests.split(" && "):
        assert command in ci, f"README's '{command}' is not a line of .ci/run"
    assert len(tests.split(" && ")) == 3
