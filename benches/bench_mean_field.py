"""Mean-field annealing against the Glauber annealer on the same problems.

Two problems, each solved by ``IsingProblem.minimize`` with 16 restarts and
each method's defaults (Glauber: 200 sweeps along ``default_schedule``, then
the quench; mean-field: 40 gain stages of 10 time units from ``γ_c/2`` to
``50γ_c``, then the same quench):

* ``maxcut G(200, 0.1)``: max-cut of a random graph (``J = −A``);
* ``SK 200``: a Sherrington–Kirkpatrick spin glass, ``J_ij ~ N(0, 1/N)``.

Quality is the best energy over the restarts (lower is better) and the mean
over restarts; both are printed and stored in the benchmark's
``extra_info``, with ``gap``: the best energy above the best either method
found (0 = as good). Time is the whole call. No assertion on either.

Run with ``python -m pytest benches/bench_mean_field.py --benchmark-only -s``.
"""

from __future__ import annotations

import os

import hopfield as hf
import numpy as np
import pytest

RESTARTS = 16


def _problems() -> dict[str, hf.IsingProblem]:
    rng = np.random.default_rng(0)
    a = np.triu((rng.random((200, 200)) < 0.1).astype(np.float64), 1)
    g = rng.standard_normal((200, 200)) / np.sqrt(200)
    return {
        "maxcut G(200, 0.1)": hf.IsingProblem(-(a + a.T)),
        "SK 200": hf.IsingProblem(np.triu(g, 1) + np.triu(g, 1).T),
    }


_PROBLEMS: dict[str, hf.IsingProblem] = {}
_BEST: dict[str, dict[str, float]] = {}


@pytest.mark.parametrize("method", ["glauber", "mean-field"])
@pytest.mark.parametrize("name", ["maxcut G(200, 0.1)", "SK 200"])
def test_annealers(benchmark, name: str, method: str) -> None:
    if not _PROBLEMS:
        _PROBLEMS.update(_problems())
    problem = _PROBLEMS[name]
    result = benchmark.pedantic(
        lambda: problem.minimize(method=method, restarts=RESTARTS, seed=1),
        rounds=3,
        iterations=1,
    )
    assert result.converged.all()
    np.testing.assert_allclose(result.energy, problem.energy(result.states))
    best = _BEST.setdefault(name, {})
    best[method] = result.best_energy
    low = min(best.values())
    benchmark.group = f"annealing {name}, {RESTARTS} restarts"
    benchmark.extra_info.update(
        method=method,
        best_energy=result.best_energy,
        mean_energy=float(result.energy.mean()),
        cpus=os.cpu_count(),
    )
    print(
        f"\n{name}: {method}: best energy {result.best_energy:.4f}, "
        f"mean {result.energy.mean():.4f} (best of the methods so far {low:.4f})"
    )
