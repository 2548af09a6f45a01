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

README = Path(__file__).resolve().parents[1] / "README.md"


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
