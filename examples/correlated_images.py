"""Correlated patterns: letters are far from random, and the Hebbian rule fails
on them long before 0.138N; the pseudo-inverse (projection) rule stores them
(the seeds' "correlated images, Hebbian vs pseudo-inverse" experiment).

For each number k of letters stored, counts how many are fixed points and how
many are recalled from 10% flipped pixels, for every rule available among
``hebbian``, ``storkey`` and ``pseudoinverse`` (rules not registered in
``hopfield.experiments.MODELS`` in this build are listed and skipped).

    python examples/correlated_images.py --plot correlated.png
"""

from __future__ import annotations

import argparse

import hopfield as hf
import numpy as np
from hopfield import experiments

RULES = ("hebbian", "storkey", "pseudoinverse")
ORDER = "ACEHKMOSTXZBDFGIJLNPQRUVWY"


def main(argv: list[str] | None = None) -> dict[str, np.ndarray]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-letters", type=int, default=16)
    ap.add_argument("--scale", type=int, default=2, help="pixel blow-up (default 2: 18x14)")
    ap.add_argument("--flip", type=float, default=0.1)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", help="save the figure to this PNG")
    args = ap.parse_args(argv)

    rules = [r for r in RULES if r in experiments.MODELS]
    missing = [r for r in RULES if r not in experiments.MODELS]
    if missing:
        print(f"not available in this build (not registered): {', '.join(missing)}")
    data = hf.datasets.letters(ORDER[: args.max_letters], scale=args.scale)
    sim = experiments.similarity_matrix(data.patterns)
    off = np.abs(sim[~np.eye(len(sim), dtype=bool)])
    print(
        f"{len(data.labels)} letters of {data.shape[0]}x{data.shape[1]} pixels; "
        f"mean |overlap| between letters {off.mean():.2f} (random patterns: ~0)"
    )
    ks = np.arange(2, args.max_letters + 1)
    recalled = {}
    for rule in rules:
        rates = []
        for k in ks:
            r = experiments.noise_robustness(
                rule, data.patterns[:k], [0.0, args.flip], trials=args.trials, seed=args.seed
            )
            rates.append(r.exact_fraction)
        recalled[rule] = np.array(rates)  # (len(ks), 2): from itself, from noise
        print(f"{rule}: letters recalled exactly (from themselves / from {args.flip:.0%} flips)")
        for k, (a, b) in zip(ks, recalled[rule], strict=True):
            print(f"   k = {k:>2}: {a:.2f} / {b:.2f}")
    if args.plot:
        from hopfield import plot
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10, 3.6), layout="constrained")
        left, right = fig.subplots(1, 2)
        for rule, rates in recalled.items():
            left.plot(ks, rates[:, 1], marker="o", label=rule)
        left.set_xlabel("letters stored")
        left.set_ylabel(f"recalled exactly from {args.flip:.0%} flips")
        left.legend()
        plot.similarity_heatmap(data.patterns, labels=list(data.labels), ax=right)
        fig.savefig(args.plot, dpi=100)
        print(f"wrote {args.plot}")
    return recalled


if __name__ == "__main__":
    main()
