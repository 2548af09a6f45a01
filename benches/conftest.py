"""pytest configuration for the benchmarks in this folder.

* Collects ``bench_*.py`` files (pytest's default pattern is ``test_*.py``).
* Lets each benchmark record its per-query time under its group, and prints a
  table of Rust vs reference speed-ups at the end of the session.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

_HERE = Path(__file__).parent
_RESULTS = pytest.StashKey[dict[str, dict[str, float | None]]]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if (
        file_path.suffix == ".py"
        and file_path.name.startswith("bench_")
        and file_path.parent == _HERE
        # A file named on the command line is already collected by pytest itself.
        and not parent.session.isinitpath(file_path)
    ):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RESULTS] = {}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Fail loudly if the benches folder was asked for but nothing was found in it."""
    asked = any(Path(a.split("::")[0]).resolve() == _HERE for a in session.config.args)
    filtered = session.config.option.keyword or session.config.option.markexpr
    found = any(Path(str(item.path)).parent == _HERE for item in session.items)
    if asked and not filtered and not found:
        raise pytest.UsageError(f"no benchmarks collected from {_HERE}")


@pytest.fixture
def record_ratio(request: pytest.FixtureRequest) -> Callable[[str, str, float | None], None]:
    """``record_ratio(group, impl, seconds_per_query)``; ``None`` when not timed."""
    results = request.config.stash[_RESULTS]

    def record(group: str, impl: str, seconds: float | None) -> None:
        results.setdefault(group, {})[impl] = seconds

    return record


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's own tables
def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash.get(_RESULTS, {})
    if not results:
        return
    tr = terminalreporter
    timed = {
        g: r
        for g, r in results.items()
        if r.get("rust") is not None and r.get("reference") is not None
    }
    if not timed:
        tr.write_line(
            f"hopfield benches: {len(results)} groups run once; Rust and reference "
            "gave identical states (timing disabled)"
        )
        return
    tr.write_sep("-", "hopfield: Rust vs NumPy reference (median, same inputs, identical states)")
    tr.write_line(f"{'group':<28} {'rust us/query':>14} {'ref us/query':>14} {'speed-up':>9}")
    for group, r in timed.items():
        rust, ref = r["rust"], r["reference"]
        tr.write_line(f"{group:<28} {rust * 1e6:>14.2f} {ref * 1e6:>14.2f} {ref / rust:>8.1f}x")
