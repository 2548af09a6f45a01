"""Beyond 0.138N: dense associative memories (Krotov & Hopfield 2016,
Demircigil et al. 2017) against the Hebbian network on one capacity plot,
with their theoretical capacities.

Uses every kind among ``hebbian``, ``dense-poly3`` and ``dense-exp`` that is
registered in ``hopfield.experiments.MODELS`` (the others are listed and
skipped).

    python examples/dense_capacity.py --plot dense.png
"""

from __future__ import annotations

import argparse

import numpy as np
from hopfield import experiments, theory

KINDS = ("hebbian", "dense-poly3", "dense-exp")


def main(argv: list[str] | None = None) -> list[experiments.CapacityResult]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--max-load", type=float, default=2.0, help="largest P/N (default 2)")
    ap.add_argument("--noise", type=float, default=0.1)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", help="save the figure to this PNG")
    args = ap.parse_args(argv)

    kinds = [k for k in KINDS if k in experiments.MODELS]
    missing = [k for k in KINDS if k not in experiments.MODELS]
    if missing:
        print(f"not available in this build (not registered): {', '.join(missing)}")
    n = args.n
    print(
        f"theory at N = {n}: Hebbian AGS alpha_c*N = {theory.alpha_c * n:.1f}; "
        f"exact recall N/(2 ln N) = {theory.mceliece_capacity(n):.1f}; "
        f"degree 3 N^2/(6 ln N) = {theory.dense_polynomial_capacity(n, 3):.0f}; "
        f"exponential exp(N ln2 / 2) = {theory.dense_exponential_capacity(n):.3g}"
    )
    loads = np.unique(np.round(np.geomspace(0.05, args.max_load, 14), 3))
    results = []
    for kind in kinds:
        r = experiments.capacity_curve(
            kind, n, loads, noise=args.noise, trials=args.trials, seed=args.seed, progress=True
        )
        results.append(r)
        print(f"{kind}: load -> mean overlap from {args.noise:.0%} flips")
        print(
            "   "
            + "  ".join(f"{a:.2f}:{m:.2f}" for a, m in zip(r.loads, r.mean_overlap, strict=True))
        )
    if args.plot:
        from hopfield import plot

        fig = plot.capacity_plot(results, fixed=False)
        fig.axes[0].set_xscale("log")
        fig.savefig(args.plot, dpi=100)
        print(f"wrote {args.plot}")
    return results


if __name__ == "__main__":
    main()
