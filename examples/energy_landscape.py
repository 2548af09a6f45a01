"""The energy landscape: noisy queries roll downhill to the stored patterns.
States visited sweep by sweep are projected onto two principal components,
coloured by energy (the seeds' "click anywhere on the landscape" picture).

    python examples/energy_landscape.py --plot landscape.png
"""

from __future__ import annotations

import argparse

import hopfield as hf
import numpy as np
from hopfield import experiments


def main(argv: list[str] | None = None) -> experiments.Trajectories:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--patterns", type=int, default=3)
    ap.add_argument("--flip", type=float, default=0.35)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", help="save the figure to this PNG")
    args = ap.parse_args(argv)

    patterns = hf.random_patterns(args.patterns, args.n, seed=args.seed)
    net = hf.HopfieldNetwork(args.n)
    net.store(patterns)
    queries = hf.corrupt(patterns, flip=args.flip, seed=args.seed + 1)
    path = experiments.trajectories(net, queries, sweeps=6, seed=args.seed + 2)
    for k, e in enumerate(path.energy):
        m = path.states[k, -1].astype(int) @ patterns[k] / args.n
        print(f"query {k}: energy {' -> '.join(f'{v:.1f}' for v in e)}; final overlap {m:+.2f}")
    assert np.all(np.diff(path.energy, axis=1) <= 1e-9), "energy went up"
    if args.plot:
        from hopfield import plot

        plot.energy_landscape(net, queries, sweeps=6, seed=args.seed + 2).savefig(
            args.plot, dpi=100
        )
        print(f"wrote {args.plot}")
    return path


if __name__ == "__main__":
    main()
