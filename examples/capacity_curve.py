"""Capacity: store more and more random patterns and watch retrieval collapse
near alpha_c = 0.138 (the seeds' capacity experiment, at N = 100 and N = 1000,
with the AGS zero-temperature theory drawn beside the data).

    python examples/capacity_curve.py --plot capacity.png
    python examples/capacity_curve.py --model storkey      # any registered kind
"""

from __future__ import annotations

import argparse

import numpy as np
from hopfield import experiments, theory


def main(argv: list[str] | None = None) -> list[experiments.CapacityResult]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000", help="values of N (default 100,1000)")
    ap.add_argument("--model", default="hebbian", help=f"one of {sorted(experiments.MODELS)}")
    ap.add_argument("--noise", type=float, default=0.0, help="flip fraction of the queries")
    ap.add_argument("--trials", type=int, default=0, help="trials per load (default: 20000/N)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", help="save the figure to this PNG")
    args = ap.parse_args(argv)

    loads = np.round(np.arange(0.02, 0.301, 0.01), 2)
    results = []
    for n in (int(x) for x in args.sizes.split(",")):
        trials = args.trials or max(1, 20_000 // n)
        r = experiments.capacity_curve(
            args.model, n, loads, noise=args.noise, trials=trials, seed=args.seed, progress=True
        )
        results.append(r)
        below = r.loads[np.argmax(r.mean_overlap < 0.9)] if (r.mean_overlap < 0.9).any() else None
        print(f"{args.model}, N = {n}, {trials} trials per load:")
        print("   alpha  overlap  fixed   AGS m")
        for a, m, f in zip(r.loads, r.mean_overlap, r.fixed_fraction, strict=True):
            print(f"   {a:.2f}   {m:.4f}  {f:.3f}  {theory.ags_overlap(a):.4f}")
        print(f"   mean overlap first below 0.9 at alpha = {below}")
        print(f"   McEliece exact-recall load 1/(2 ln N) = {theory.mceliece_capacity(n) / n:.3f}")
    print(f"AGS alpha_c = {theory.alpha_c:.4f}")
    if args.plot:
        from hopfield import plot

        plot.capacity_plot(results).savefig(args.plot, dpi=100)
        print(f"wrote {args.plot}")
    return results


if __name__ == "__main__":
    main()
