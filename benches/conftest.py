"""pytest configuration for the benchmarks in this folder.

* Collects ``bench_*.py`` files (pytest's default pattern is ``test_*.py``).
* Timed runs happen at the BLAS's full speed: when timing is on and the
  environment sets ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` (which slow
  a current NumPy's OpenBLAS to older kernels), the process starts itself
  again without them before anything is imported or timed. Runs with
  ``--benchmark-disable`` (the benches as tests, as CI runs them) keep the
  environment as it is.
* The header names the BLAS kernel, its threads and the SIMD level; a timed
  run also measures the machine's floors (GEMM peak, XOR + popcount rate,
  memory bandwidth; :mod:`hopfield.lab.machine`).
* Each benchmark records its per-query time under its group, with the
  work of one query (:class:`hopfield.lab.machine.Work`); the end of the
  session prints Rust vs reference and how far each Rust figure is from
  the floor.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hopfield.lab import machine

_HERE = Path(__file__).parent
_RESULTS = pytest.StashKey[dict[str, dict[str, float | None]]]()
_WORK = pytest.StashKey[dict[str, machine.Work]]()
_FLOORS = pytest.StashKey[machine.Floors]()
_SCALING = pytest.StashKey[dict[str, dict[int, float | None]]]()


def _timing(config: pytest.Config) -> bool:
    """Whether pytest-benchmark times this run (not ``--benchmark-disable``)."""
    option = config.option
    return bool(getattr(option, "benchmark_enable", False)) or not getattr(
        option, "benchmark_disable", True
    )


def pytest_cmdline_main(config: pytest.Config) -> None:
    """Restart a timed run without the variables that slow the BLAS."""
    if (
        _timing(config)
        and machine.slowing_variables_set()
        and not os.environ.get("HOPFIELD_BENCH_RESTARTED")
    ):
        env = machine.full_speed_environment()
        env["HOPFIELD_BENCH_RESTARTED"] = "1"
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, "-m", "pytest", *sys.argv[1:]], env)


def pytest_report_header(config: pytest.Config) -> list[str]:
    import hopfield as hf

    lines = [
        machine.blas_description(),
        f"hopfield: SIMD level {hf.simd_level()}, {os.cpu_count()} CPUs, "
        f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'unset')}",
    ]
    if _timing(config):
        floors = machine.measure_floors()
        config.stash[_FLOORS] = floors
        lines += ["machine floors (measured now):", *("  " + x for x in floors.lines())]
    elif machine.slowing_variables_set():
        lines.append("(not timed: the environment's OpenBLAS settings are left as they are)")
    return lines


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
    config.stash[_WORK] = {}
    config.stash[_SCALING] = {}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Fail loudly if the benches folder was asked for but nothing was found in it."""
    asked = any(Path(a.split("::")[0]).resolve() == _HERE for a in session.config.args)
    filtered = session.config.option.keyword or session.config.option.markexpr
    found = any(Path(str(item.path)).parent == _HERE for item in session.items)
    if asked and not filtered and not found:
        raise pytest.UsageError(f"no benchmarks collected from {_HERE}")


@pytest.fixture
def record_ratio(
    request: pytest.FixtureRequest,
) -> Callable[..., None]:
    """``record_ratio(group, impl, seconds_per_query, work=None)``; seconds are
    ``None`` when not timed; ``work`` (a :class:`hopfield.lab.machine.Work`)
    is the unavoidable work of one query, for the floor column."""
    results = request.config.stash[_RESULTS]
    works = request.config.stash[_WORK]

    def record(
        group: str, impl: str, seconds: float | None, work: machine.Work | None = None
    ) -> None:
        results.setdefault(group, {})[impl] = seconds
        if work is not None:
            works[group] = work

    return record


@pytest.fixture
def record_scaling(request: pytest.FixtureRequest) -> Callable[[str, int, float | None], None]:
    """``record_scaling(model, threads, seconds_per_query)``; ``None`` when not timed."""
    scaling = request.config.stash[_SCALING]

    def record(model: str, threads: int, seconds: float | None) -> None:
        scaling.setdefault(model, {})[threads] = seconds

    return record


def _write_scaling(tr, scaling: dict[str, dict[int, float | None]]) -> None:
    timed = {m: r for m, r in scaling.items() if r and all(v is not None for v in r.values())}
    if not timed:
        return
    tr.write_sep("-", "hopfield: throughput against threads (efficiency = speed-up / threads)")
    for model, runs in timed.items():
        base = runs.get(1)
        cells = []
        for t, sec in sorted(runs.items()):
            assert sec is not None
            eff = f" eff {base / sec / t:.0%}" if base else ""
            cells.append(f"{t}: {1 / sec:,.0f} q/s{eff}")
        tr.write_line(f"{model:<34} " + " | ".join(cells))


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's own tables
def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    tr = terminalreporter
    _write_scaling(tr, config.stash.get(_SCALING, {}))
    results = config.stash.get(_RESULTS, {})
    if not results:
        return
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
    floors = config.stash.get(_FLOORS, None)
    if floors is None:
        # `-q` skips the report header, where the floors are usually measured.
        floors = machine.measure_floors()
    works = config.stash.get(_WORK, {})
    tr.write_sep("-", "hopfield: Rust vs NumPy reference (median, same inputs, same results)")
    tr.write_line(machine.blas_description())
    tr.write_line("machine floors (measured now): " + "; ".join(floors.lines()))
    width = max(28, *(len(g) for g in timed))
    tr.write_line(
        f"{'group':<{width}} {'rust us/query':>14} {'ref us/query':>14} {'speed-up':>9}"
        f" {'floor us':>9} {'rust/floor':>10}"
    )
    for group, r in timed.items():
        rust, ref = r["rust"], r["reference"]
        floor = works[group].floor(floors) if floors and group in works else None
        tail = f" {floor * 1e6:>9.3f} {rust / floor:>9.1f}x" if floor else ""
        tr.write_line(
            f"{group:<{width}} {rust * 1e6:>14.2f} {ref * 1e6:>14.2f} {ref / rust:>8.1f}x{tail}"
        )
