"""Spurious attractors: run the network from random states and see where it
settles: stored patterns, their negatives, mixtures sign(±ξ¹ ± ξ² ± ξ³) and
spin-glass states, below and above capacity (the seeds' spurious-state experiment).

    python examples/spurious_attractors.py --plot spurious.png
"""

from __future__ import annotations

import argparse

import hopfield as hf
import numpy as np
from hopfield import experiments


def main(argv: list[str] | None = None) -> list[experiments.SpuriousCensus]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400, help="neurons (default 400)")
    ap.add_argument("--loads", default="0.01,0.05,0.2", help="loads P/N (default 0.01,0.05,0.2)")
    ap.add_argument("--starts", type=int, default=5000, help="random starts (default 5000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", help="save the census of the middle load to this PNG")
    args = ap.parse_args(argv)

    censuses = []
    for load in (float(x) for x in args.loads.split(",")):
        p = max(1, round(load * args.n))
        patterns = hf.random_patterns(p, args.n, seed=args.seed)
        c = experiments.spurious_census(
            "hebbian", args.starts, patterns=patterns, seed=args.seed + 1, progress=True
        )
        censuses.append(c)
        share = {k: c.visits[c.category == k].sum() / max(c.converged, 1) for k in c.counts}
        print(f"N = {args.n}, P = {p} (load {load:g}): {len(c.visits)} distinct fixed points")
        for k, v in c.counts.items():
            print(f"   {k:<12} {v:>6} distinct  {share[k]:>6.1%} of starts")
        mixtures = [
            comp for comp, k in zip(c.components, c.category, strict=True) if k == "mixture"
        ]
        three = [m for m in mixtures if len(m) == 3]
        if three:
            comp = three[0]
            s = np.sign(sum(e * patterns[mu].astype(int) for mu, e in comp))
            m = patterns @ s / args.n
            print(
                f"   a 3-mixture: components {comp}, "
                f"overlaps {np.round(m[[mu for mu, _ in comp]], 2)}"
            )
    if args.plot:
        from hopfield import plot

        plot.census_plot(censuses[len(censuses) // 2]).savefig(args.plot, dpi=100)
        print(f"wrote {args.plot}")
    return censuses


if __name__ == "__main__":
    main()
