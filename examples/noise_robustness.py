"""Noise robustness: retrieval quality against the fraction of flipped spins
(the seeds' 10%, 20%, 30%, ... experiment), at a low and a high load.

    python examples/noise_robustness.py --plot robustness.png
"""

from __future__ import annotations

import argparse

import hopfield as hf
import numpy as np
from hopfield import experiments


def main(argv: list[str] | None = None) -> list[experiments.RobustnessResult]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="neurons (default 1000)")
    ap.add_argument("--loads", default="0.05,0.12", help="loads P/N (default 0.05,0.12)")
    ap.add_argument("--model", default="hebbian", help=f"one of {sorted(experiments.MODELS)}")
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", help="save the figure to this PNG")
    args = ap.parse_args(argv)

    levels = np.round(np.arange(0.0, 0.51, 0.05), 2)
    results = []
    for load in (float(x) for x in args.loads.split(",")):
        p = max(1, round(load * args.n))
        patterns = hf.random_patterns(p, args.n, seed=args.seed)
        r = experiments.noise_robustness(
            args.model,
            patterns,
            levels,
            trials=args.trials,
            seed=args.seed + 1,
            progress=True,
        )
        r = experiments.RobustnessResult(**{**vars(r), "model": f"{args.model}, P/N = {load:g}"})
        results.append(r)
        print(f"{r.model} (N = {args.n}, P = {p}):")
        print("   noise  overlap  recalled")
        for lv, m, c in zip(r.noise_levels, r.mean_overlap, r.recalled_fraction, strict=True):
            print(f"   {lv:.2f}   {m:+.4f}  {c:.3f}")
    if args.plot:
        from hopfield import plot

        plot.robustness_plot(results).savefig(args.plot, dpi=100)
        print(f"wrote {args.plot}")
    return results


if __name__ == "__main__":
    main()
